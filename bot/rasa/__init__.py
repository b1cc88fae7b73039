"""What faces Rasa: the entry point with the project's patches, the input channels,
the NLU components and the tracker store."""
