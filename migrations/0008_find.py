from tortoise import migrations
from tortoise.migrations import operations as ops
from models.states import MailingState
from tortoise import fields
from tortoise.indexes import Index
from models.sql import render
from models.text import fold


async def fold_texts(apps, schema_editor):
    """Fill text_folded for the mailings that exist (a few thousand at most: one UPDATE
    each is fine here); new and edited ones get it from models/lifecycle.py."""
    client = schema_editor.client
    dialect = client.capabilities.dialect
    for row in await client.execute_query_dict("SELECT id, text FROM mailing"):
        await client.execute_query(*render(
            "UPDATE mailing SET text_folded = :folded WHERE id = :id", dialect,
            folded=fold(row["text"]), id=row["id"]))


class Migration(migrations.Migration):
    dependencies = [('models', '0007_hist')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Client',
            name='operator_code',
            field=fields.CharField(max_length=3),
        ),
        ops.AlterField(
            model_name='Client',
            name='tag',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name='Client',
            index=Index(fields=['operator_code', 'id']),
        ),
        ops.AddIndex(
            model_name='Client',
            index=Index(fields=['tag', 'id']),
        ),
        ops.AddIndex(
            model_name='Client',
            index=Index(fields=['timezone', 'operator_code', 'tag']),
        ),
        ops.AlterField(
            model_name='Mailing',
            name='start_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Mailing',
            name='state',
            field=fields.CharEnumField(default=MailingState.SCHEDULED, description='SCHEDULED: SCHEDULED\nRUNNING: RUNNING\nPAUSED: PAUSED\nFINISHED: FINISHED\nCANCELLED: CANCELLED', enum_type=MailingState, max_length=10),
        ),
        ops.AddField(
            model_name='Mailing',
            name='text_folded',
            field=fields.TextField(db_default='', unique=False),
        ),
        ops.RunPython(fold_texts, ops.RunPython.noop),
        ops.AddIndex(
            model_name='Mailing',
            index=Index(fields=['created_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Mailing',
            index=Index(fields=['start_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Mailing',
            index=Index(fields=['state', 'created_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Mailing',
            index=Index(fields=['state', 'start_at', 'id']),
        ),
    ]
