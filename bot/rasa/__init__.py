"""What faces Rasa: the entry point that starts it with the project's patches."""
