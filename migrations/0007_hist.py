from tortoise import migrations
from tortoise.migrations import operations as ops
from models.attempts import ErrorClass
from models.states import MessageStatus
from tortoise import fields
from tortoise.indexes import Index

# Attempt history (models/attempts.py) and the timeline's index: message(mailing_id, status)
# becomes (mailing_id, status, sent_at), which serves every query the old one served and
# counts SENT rows per time bucket from the index alone (models/timeline.py).


class Migration(migrations.Migration):
    dependencies = [('models', '0006_export')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MessageAttempt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.BigIntField(db_index=True)),
                ('mailing_id', fields.IntField()),
                ('attempt', fields.IntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('http_status', fields.IntField(null=True)),
                ('latency_ms', fields.FloatField(null=True)),
                ('error_class', fields.CharEnumField(description='TRANSIENT: transient\nTIMEOUT: timeout\nREJECTED: rejected\nUNAUTHORIZED: unauthorized\nERROR: error', enum_type=ErrorClass, max_length=12)),
                ('error', fields.CharField(null=True, max_length=300)),
                ('outcome', fields.CharEnumField(description='PENDING: PENDING\nSENDING: SENDING\nRETRYING: RETRYING\nSENT: SENT\nFAILED: FAILED\nEXPIRED: EXPIRED\nCANCELLED: CANCELLED', enum_type=MessageStatus, max_length=10)),
            ],
            options={'table': 'message_attempt', 'app': 'models', 'indexes': [Index(fields=['mailing_id', 'at'])], 'pk_attr': 'id', 'table_description': 'Plain id columns, no FK constraints, as on `message` (models/message.py says why).'},
            bases=['Model'],
        ),
        ops.RemoveIndex(
            model_name='Message',
            name=None,
            fields=['mailing_id', 'status'],
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['mailing_id', 'status', 'sent_at']),
        ),
    ]
