from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_worker_heartbeat')]

    initial = False

    operations = [
        # The CSV export's keyset pages over one mailing's messages (models/message.py).
        ops.AddIndex(model_name='Message', index=Index(fields=['mailing_id', 'id'])),
    ]
