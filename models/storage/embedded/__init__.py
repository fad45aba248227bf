"""The embedded in-memory store: mongomock-motor, for one process (development, demos, tests).

Everything that knows it runs on mongomock lives in this package; nothing outside it imports
mongomock or reaches into mongomock-motor, so the MongoDB path never loads the fake.
`models/storage/mongo.py` (`open_database`) opens this store when no MongoDB URL is set, and the
`EmbeddedDatabase` it returns hands out the stores that differ on it:

- `database.py`: `EmbeddedDatabase` and `open_embedded` (the client, the speed-ups applied once);
- `outbox.py`: `LocalOutboxStore`, the outbox in this process's memory;
- `push_jobs.py`: `EmbeddedPushJobStore`, job claims that walk mongomock's table;
- `indexes.py`: only the indexes mongomock models correctly;
- `tables.py`: mongomock's document table behind a mongomock-motor collection;
- `patches.py` (`speed_up_mongomock`) with `cursors.py`, `documents.py`, `filters.py`,
  `inserts.py`, `lookups.py`, `updates.py` and `switch.py`: mongomock's hot paths made faster,
  process-wide, each checked against plain mongomock in tests/storage/test_embedded.py.
"""
