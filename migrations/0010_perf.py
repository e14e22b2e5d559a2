from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index


class Migration(migrations.Migration):
    # Chained after 0008_find on this branch; at the merge it follows 0009_report.
    dependencies = [('models', '0008_find')]

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
    ]
