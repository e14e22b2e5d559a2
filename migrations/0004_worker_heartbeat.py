from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_idempotency_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WorkerHeartbeat',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('worker_id', fields.CharField(unique=True, max_length=64)),
                ('host', fields.CharField(max_length=255)),
                ('pid', fields.IntField()),
                ('seen_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'worker_heartbeat', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
