"""`make bench`: accuracy, speed under load and training cost, side by side with Rasa's stock bot.

`python -m bench.run` writes `bench/results/<timestamp>/` (report.md, summary.json,
PNG charts); `python -m bench.run --smoke` is the quick run the tests use.
"""
