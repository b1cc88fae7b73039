"""NLU building blocks: the project's spaCy ``zh`` pipeline and its Rasa adapter."""
