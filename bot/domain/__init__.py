"""The refund domain: knowledge, normalisers, masking, cases, checklists.

Plain typed Python: no Rasa, web framework or database driver."""
