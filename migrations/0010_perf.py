from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

# SQLite's insert counter is a row trigger: one upsert into mailing_stat per message, ~2 s of
# a 1,000,000-row fan-out. The fan-out (models/audience.py) counts its rows itself in one
# statement; while it runs, its mailing holds a mailing_stat row with status '*' that the
# trigger's WHEN sees (one index probe per row instead of an upsert). Every other insert is
# counted as before. PostgreSQL's counter is statement-level already (0002).
SQLITE_INSERT_COUNTER = """
DROP TRIGGER message_counts_ins;
CREATE TRIGGER message_counts_ins AFTER INSERT ON message
  WHEN NOT EXISTS (SELECT 1 FROM mailing_stat WHERE mailing_id = NEW.mailing_id AND status = '*')
BEGIN
  INSERT INTO mailing_stat (mailing_id, status, n) VALUES (NEW.mailing_id, NEW.status, 1)
    ON CONFLICT (mailing_id, status) DO UPDATE SET n = n + 1;
END;
"""


async def bulk_insert_counter(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "sqlite":
        await client.execute_script("BEGIN IMMEDIATE;" + SQLITE_INSERT_COUNTER + "COMMIT;")


class Migration(migrations.Migration):
    dependencies = [('models', '0009_report')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['mailing_id', 'status', 'next_attempt_at']),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['client_id']),
        ),
        ops.RunPython(bulk_insert_counter),
    ]
