from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION herald_count_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO mailing_stat (mailing_id, status, n)
      SELECT mailing_id, status, COUNT(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (mailing_id, status) DO UPDATE SET n = mailing_stat.n + EXCLUDED.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO mailing_stat (mailing_id, status, n)
      SELECT mailing_id, status, -COUNT(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (mailing_id, status) DO UPDATE SET n = mailing_stat.n + EXCLUDED.n;
  ELSE
    INSERT INTO mailing_stat (mailing_id, status, n)
      SELECT mailing_id, status, SUM(d) FROM (
        SELECT mailing_id, status, -1 AS d FROM old_rows
        UNION ALL SELECT mailing_id, status, 1 AS d FROM new_rows) AS delta
      GROUP BY 1, 2 HAVING SUM(d) <> 0 ORDER BY 1, 2
      ON CONFLICT (mailing_id, status) DO UPDATE SET n = mailing_stat.n + EXCLUDED.n;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER message_counts_ins AFTER INSERT ON message REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION herald_count_messages();
CREATE TRIGGER message_counts_upd AFTER UPDATE ON message
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION herald_count_messages();
CREATE TRIGGER message_counts_del AFTER DELETE ON message REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION herald_count_messages();
"""

SQLITE_UPSERT = (
    "INSERT INTO mailing_stat (mailing_id, status, n) VALUES ({row}.mailing_id, {row}.status,"
    " {d}) ON CONFLICT (mailing_id, status) DO UPDATE SET n = n + {d};"
)
SQLITE_TRIGGERS = f"""
CREATE TRIGGER message_counts_ins AFTER INSERT ON message BEGIN
  {SQLITE_UPSERT.format(row="NEW", d=1)}
END;
CREATE TRIGGER message_counts_upd AFTER UPDATE OF status ON message
  WHEN OLD.status <> NEW.status BEGIN
  {SQLITE_UPSERT.format(row="OLD", d=-1)}
  {SQLITE_UPSERT.format(row="NEW", d=1)}
END;
CREATE TRIGGER message_counts_del AFTER DELETE ON message BEGIN
  {SQLITE_UPSERT.format(row="OLD", d=-1)}
END;
"""

BACKFILL = (
    "INSERT INTO mailing_stat (mailing_id, status, n)"
    " SELECT mailing_id, status, COUNT(*) FROM message GROUP BY mailing_id, status;"
)


async def create_counter_triggers(apps, schema_editor):
    """Counters per (mailing, status) kept in the same transaction as every change of
    `message`: statement-level triggers over transition tables on PostgreSQL (one aggregate
    per statement, so a 1M-row fan-out adds one GROUP BY), row triggers on SQLite."""
    client = schema_editor.client
    dialect = client.capabilities.dialect
    if dialect not in ("postgres", "sqlite"):
        raise RuntimeError(f"no counter triggers for {dialect}")
    # One transaction, writers held off, triggers first: no change is counted twice or lost
    # between the backfill and the triggers (a multi-statement script is one implicit
    # transaction on PostgreSQL; SQLite gets an explicit one).
    if dialect == "postgres":
        await client.execute_script(
            "LOCK TABLE message IN SHARE ROW EXCLUSIVE MODE;" + PG_FUNCTION + BACKFILL)
    else:
        await client.execute_script("BEGIN IMMEDIATE;" + SQLITE_TRIGGERS + BACKFILL + "COMMIT;")


class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MailingStat',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('mailing_id', fields.IntField()),
                ('status', fields.CharField(max_length=10)),
                ('n', fields.BigIntField(default=0)),
            ],
            options={'table': 'mailing_stat', 'app': 'models', 'unique_together': (('mailing_id', 'status'),), 'pk_attr': 'id', 'table_description': 'Messages per (mailing, status), kept by database triggers in the same transaction as'},
            bases=['Model'],
        ),
        ops.RunPython(create_counter_triggers),
    ]
