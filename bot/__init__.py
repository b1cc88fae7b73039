"""误刷助手, one folder per part: ``domain`` (the refund logic, free of Rasa), ``infra``
(server secret, identity, private files, rate limits), ``storage`` (the databases), and the
applications ``rasa`` and ``console``."""
