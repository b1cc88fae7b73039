"""``python -m bot.rasa <rasa arguments>``: Rasa's own command line, with the project's patches.

The Makefile, the cluster, the tests and the benchmark start Rasa this way
(``run``, ``train``, ``test``); plain ``rasa`` runs stock Rasa, which gives the
same answers more slowly.
"""

from __future__ import annotations

import sys

from bot.rasa import patches


def main() -> None:
    patches.install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
