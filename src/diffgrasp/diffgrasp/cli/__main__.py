"""``python -m diffgrasp.cli`` = the ``diffgrasp`` console script."""

from diffgrasp.cli import console_main

if __name__ == "__main__":
    console_main()
