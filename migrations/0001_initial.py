from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.mailing import MailingState
from models.message import MessageStatus
from models.token import Role
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

import re


async def drop_message_fks(apps, schema_editor):
    """tortoise 1.1's schema editors write REFERENCES even for db_constraint=False. Drop them
    (models/message.py says why); SQLite cannot drop a constraint, so its still-empty table
    is rebuilt. tests/test_migrations.py checks that no FK is left on either dialect."""
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(
            "ALTER TABLE message DROP CONSTRAINT IF EXISTS message_client_id_fkey,"
            " DROP CONSTRAINT IF EXISTS message_mailing_id_fkey")
        return
    if client.capabilities.dialect != "sqlite":
        return
    rows = await client.execute_query_dict(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'message'")
    create = re.sub(r' REFERENCES "\w+" \("id"\) ON DELETE [A-Z ]+?(?=,\n)', "", rows[0]["sql"])
    indexes = await client.execute_query_dict(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message'"
        " AND sql IS NOT NULL")
    await client.execute_script(
        'DROP TABLE "message";' + create + ";" + ";".join(i["sql"] for i in indexes) + ";")


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(default='', max_length=100)),
                ('role', fields.CharEnumField(description='ADMIN: admin\nVIEWER: viewer', enum_type=Role, max_length=10)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Client',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(unique=True, max_length=11)),
                ('operator_code', fields.CharField(db_index=True, max_length=3)),
                ('tag', fields.CharField(null=True, db_index=True, max_length=64)),
                ('timezone', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'client', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Mailing',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('text', fields.TextField(unique=False)),
                ('start_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('end_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('operator_codes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('window_start', fields.IntField(null=True)),
                ('window_end', fields.IntField(null=True)),
                ('state', fields.CharEnumField(default=MailingState.SCHEDULED, db_index=True, description='SCHEDULED: SCHEDULED\nRUNNING: RUNNING\nPAUSED: PAUSED\nFINISHED: FINISHED\nCANCELLED: CANCELLED', enum_type=MailingState, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mailing', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('mailing', fields.ForeignKeyField('models.Mailing', source_field='mailing_id', db_constraint=False, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('client', fields.ForeignKeyField('models.Client', source_field='client_id', null=True, db_constraint=False, to_field='id', related_name='messages', on_delete=OnDelete.SET_NULL)),
                ('phone', fields.CharField(max_length=11)),
                ('timezone', fields.CharField(max_length=64)),
                ('status', fields.CharEnumField(default=MessageStatus.PENDING, description='PENDING: PENDING\nSENDING: SENDING\nRETRYING: RETRYING\nSENT: SENT\nFAILED: FAILED\nEXPIRED: EXPIRED\nCANCELLED: CANCELLED', enum_type=MessageStatus, max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('lease_owner', fields.CharField(null=True, max_length=64)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'message', 'app': 'models', 'unique_together': (('mailing', 'client'),), 'indexes': [Index(fields=['mailing_id', 'status']), Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(drop_message_fks),
    ]
