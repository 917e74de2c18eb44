"""``python -m config.init``: create the instance folder and its portal.cfg with a random SECRET_KEY.

Runs before the app can start (the app refuses to start without a SECRET_KEY), so it does not
import the app. The instance folder is ``./instance`` or ``$PORTAL_INSTANCE_PATH``.
"""

from __future__ import annotations

import os
from pathlib import Path

from config.loader import write_instance_file

DEFAULT_INSTANCE = Path(__file__).resolve().parent.parent / "instance"


def main() -> None:
    instance = Path(os.environ.get("PORTAL_INSTANCE_PATH") or DEFAULT_INSTANCE)
    written = write_instance_file(str(instance))
    print(f"wrote {written}" if written else f"kept {instance / 'portal.cfg'}")


if __name__ == "__main__":
    main()
