from tortoise import migrations
from tortoise.migrations import operations as ops

# SQLite's insert counter without 0010_perf's WHEN: the fan-out no longer marks its mailing
# with a '*' counter row, it drops the trigger for its INSERT instead (models/audience.py: a
# row trigger cost ~0.25 s per million rows even when its WHEN skipped them), so the WHEN
# never skipped anything and only cost each other insert an index probe. PostgreSQL's
# counter is statement-level (0002) and is left alone.
SQLITE_INSERT_COUNTER = """
DROP TRIGGER message_counts_ins;
CREATE TRIGGER message_counts_ins AFTER INSERT ON message BEGIN
  INSERT INTO mailing_stat (mailing_id, status, n) VALUES (NEW.mailing_id, NEW.status, 1)
    ON CONFLICT (mailing_id, status) DO UPDATE SET n = n + 1;
END;
"""


async def plain_insert_counter(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "sqlite":
        await client.execute_script("BEGIN IMMEDIATE;" + SQLITE_INSERT_COUNTER + "COMMIT;")


class Migration(migrations.Migration):
    dependencies = [('models', '0010_perf')]

    initial = False

    operations = [
        ops.RunPython(plain_insert_counter),
    ]
