from tortoise import migrations
from tortoise.migrations import operations as ops
from models.testsend import SendOutcome
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_tokens')]

    initial = False

    operations = [
        # The CSV export's keyset pages over one mailing's messages (models/message.py).
        ops.AddIndex(model_name='Message', index=Index(fields=['mailing_id', 'id'])),
        # testSend's record, apart from the messages (models/testsend.py).
        ops.CreateModel(
            name='TestSend',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('mailing', fields.ForeignKeyField('models.Mailing', source_field='mailing_id', db_constraint=True, to_field='id', related_name='test_sends', on_delete=OnDelete.CASCADE)),
                ('phone', fields.CharField(max_length=11)),
                ('text', fields.TextField(unique=False)),
                ('outcome', fields.CharEnumField(description='SENDING: SENDING\nSENT: SENT\nREJECTED: REJECTED\nFAILED: FAILED', enum_type=SendOutcome, max_length=10)),
                ('http_status', fields.IntField(null=True)),
                ('error', fields.CharField(null=True, max_length=300)),
                ('latency_ms', fields.FloatField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'test_send', 'app': 'models', 'indexes': [Index(fields=['mailing_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
