"""The storage package: the only code that imports motor / bson. One *Store per collection."""
