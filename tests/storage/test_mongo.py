"""The MongoDB path never loads the embedded store's fake: opening a MongoDB database, building
every store and service on it and importing the entry points leave mongomock and mongomock-motor
out of the process (run in a fresh interpreter, since the test process has them loaded)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import json, sys
from pydantic import SecretStr
from config.settings import MongoSettings, Settings
from models.services.container import build_services
from models.storage.mongo import open_database
import chatbridge.cli, chatbridge.wiring, rest.app, bridge.app, push.worker

# never contacted: nothing below awaits the database
database = open_database(MongoSettings(url=SecretStr("mongodb://127.0.0.1:9/"), timeout_ms=100))
services = build_services(Settings(_env_file=None), database)
stores = [type(services.outbox).__module__, type(services.push._jobs).__module__, database.kind]
fake = sorted(m for m in sys.modules if m.split(".")[0] in ("mongomock", "mongomock_motor")
              or m.startswith("models.storage.embedded"))
database.close()
embedded = open_database(MongoSettings())  # the control: the embedded store does load them
print(json.dumps({"fake": fake, "stores": stores, "kind": embedded.kind,
                  "loaded": [m for m in ("mongomock", "mongomock_motor") if m in sys.modules]}))
"""


def test_the_mongodb_path_does_not_import_mongomock():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("CHAT_MONGO__URL", None)
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["fake"] == []
    assert result["stores"] == ["models.storage.outbox", "models.storage.push_jobs", "mongodb"]
    assert result["kind"] == "mongomock-motor (in memory)"
    assert result["loaded"] == ["mongomock", "mongomock_motor"]
