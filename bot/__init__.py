"""误刷助手: domain logic for the POS mis-swipe assistant, free of Rasa."""
