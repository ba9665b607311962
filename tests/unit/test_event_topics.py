"""Stored events name their class by topic (``module:Aggregate.Event``) and carry their
fields by name, so renaming or re-nesting an event class, or changing its fields, would
leave events already in the store unreadable or misread. This list was taken from the
classes the ``@event("Name")`` decorators generated before the events of access, archive,
forms and flows became explicit classes; it may only grow."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

from eventsourcing.domain import CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from domain.shared.aggregate import LedgerAggregate

ENVELOPE = ("originator_id", "originator_version", "timestamp", "actor", "correlation_id", "business_line")
CREATED_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic", "actor",
                    "correlation_id", "business_line")

# topic -> fields after the envelope, in order
STORED: dict[str, tuple[str, ...]] = {
    'domain.access.business_line:BusinessLine.Created': ('code', 'name'),
    'domain.access.business_line:BusinessLine.Renamed': ('name',),
    'domain.access.credentials:ApiToken.Created': (),
    'domain.access.credentials:ApiToken.Issued': ('name', 'token_hash', 'scopes', 'permissions', 'business_lines', 'expires_at', 'issuer'),
    'domain.access.credentials:ApiToken.Revoked': ('reason',),
    'domain.access.credentials:Session.Created': (),
    'domain.access.credentials:Session.Refreshed': ('access_hash', 'refresh_hash', 'access_expires_at', 'refresh_expires_at'),
    'domain.access.credentials:Session.Revoked': ('reason',),
    'domain.access.credentials:Session.Started': ('operator_id', 'access_hash', 'refresh_hash', 'access_expires_at', 'refresh_expires_at'),
    'domain.access.delegation:DelegationGrant.Created': (),
    'domain.access.delegation:DelegationGrant.Granted': ('operator_id', 'operator', 'api_token_id', 'scopes', 'expires_at'),
    'domain.access.delegation:DelegationGrant.Renewed': ('scopes', 'expires_at'),
    'domain.access.delegation:DelegationGrant.Revoked': ('reason',),
    'domain.access.department:Department.Closed': ('reason',),
    'domain.access.department:Department.Created': ('code', 'name', 'kind', 'parent_id'),
    'domain.access.department:Department.Moved': ('old_parent_id', 'parent_id'),
    'domain.access.department:Department.Renamed': ('old_name', 'name'),
    'domain.access.field_rule:FieldRule.Created': (),
    'domain.access.field_rule:FieldRule.Defined': ('resource', 'field', 'effect', 'mask', 'applies_to_roles', 'applies_to_departments', 'exempt_roles', 'exempt_departments'),
    'domain.access.field_rule:FieldRule.Withdrawn': (),
    'domain.access.operator:Operator.BusinessLinesSet': ('business_lines', 'old_business_lines'),
    'domain.access.operator:Operator.Created': ('login_name', 'display_name', 'department_id', 'phone', 'email'),
    'domain.access.operator:Operator.DataScopeSet': ('jurisdiction', 'investor_accounts'),
    'domain.access.operator:Operator.DepartmentMoveDecided': ('approved',),
    'domain.access.operator:Operator.DepartmentMoveRequested': ('department_id', 'requested_by'),
    'domain.access.operator:Operator.Disabled': ('reason',),
    'domain.access.operator:Operator.Enabled': (),
    'domain.access.operator:Operator.LoginFailed': ('locked_until',),
    'domain.access.operator:Operator.LoginSucceeded': (),
    'domain.access.operator:Operator.PasswordSet': ('password_hash',),
    'domain.access.operator:Operator.ProfileChanged': ('display_name', 'department_id', 'phone', 'email'),
    'domain.access.operator:Operator.RolesGranted': ('roles',),
    'domain.access.operator:Operator.RolesRevoked': ('roles',),
    'domain.access.operator:Operator.Unlocked': (),
    'domain.access.role:Role.Created': ('key', 'name', 'permissions'),
    'domain.access.role:Role.OwnerSet': ('department_id',),
    'domain.access.role:Role.PermissionsSet': ('permissions', 'old_permissions'),
    'domain.access.role:Role.Renamed': ('name',),
    'domain.archive.document:Document.ContentPurged': ('sha256s', 'rule'),
    'domain.archive.document:Document.Created': (),
    'domain.archive.document:Document.Deleted': ('reason',),
    'domain.archive.document:Document.Filed': ('flow_instance', 'customer', 'fund_account', 'business_type', 'department_id'),
    'domain.archive.document:Document.MetadataEdited': ('changes', 'old_values'),
    'domain.archive.document:Document.Reclassified': ('category', 'business_type', 'old_category', 'old_business_type', 'reason'),
    'domain.archive.document:Document.Restored': ('reason',),
    'domain.archive.document:Document.Uploaded': ('customer', 'fund_account', 'department_id', 'business_type', 'flow_instance', 'category', 'filename', 'media_type', 'size', 'sha256', 'source', 'metadata'),
    'domain.archive.document:Document.VersionAdded': ('number', 'filename', 'media_type', 'size', 'sha256', 'comment'),
    'domain.archive.export:ArchiveExport.Created': (),
    'domain.archive.export:ArchiveExport.ExportProduced': ('rule_key', 'rule', 'count', 'zip_sha256', 'size', 'purpose', 'reach'),
    'domain.archive.export:ExportRuleDefinition.Changed': ('name', 'rule'),
    'domain.archive.export:ExportRuleDefinition.Created': (),
    'domain.archive.export:ExportRuleDefinition.Defined': ('key', 'name', 'rule'),
    'domain.archive.sync:SyncBatch.AnomalyResolved': ('index', 'resolution', 'note'),
    'domain.archive.sync:SyncBatch.Created': (),
    'domain.archive.sync:SyncBatch.Imported': ('batch_id', 'source', 'entries', 'department_id'),
    'domain.archive.sync:SyncBatchClaim.Claimed': ('batch_id',),
    'domain.archive.sync:SyncBatchClaim.Created': (),
    'domain.calendar.calendar:BusinessCalendar.Created': ('department_id', 'name', 'timezone', 'weekend', 'hours'),
    'domain.calendar.calendar:BusinessCalendar.DaySet': ('day', 'kind', 'name'),
    'domain.calendar.calendar:BusinessCalendar.HoursSet': ('weekend', 'hours'),
    'domain.calendar.calendar:BusinessCalendar.YearSet': ('year', 'holidays', 'workdays', 'source'),
    'domain.feerates.exchange_rates:ExchangeRateTable.Created': (),
    'domain.feerates.exchange_rates:ExchangeRateTable.Loaded': ('entries', 'source', 'effective_date'),
    'domain.feerates.template:FeeRateTemplate.Created': ('key', 'name', 'entries', 'note'),
    'domain.feerates.template:FeeRateTemplate.Published': ('number',),
    'domain.feerates.template:FeeRateTemplate.Revised': ('number', 'name', 'entries', 'note'),
    'domain.feerates.writeback:Writeback.Archived': ('document_id',),
    'domain.feerates.writeback:Writeback.Created': (),
    'domain.feerates.writeback:Writeback.Exported': ('request_id', 'instance_id', 'node', 'counter', 'layout', 'file', 'sha256', 'records', 'source'),
    'domain.feerates.writeback:Writeback.Failed': ('message', 'channel'),
    'domain.feerates.writeback:Writeback.Imported': ('message', 'channel'),
    'domain.flows.definition:FlowDefinition.Created': ('key', 'name', 'business_type', 'description'),
    'domain.flows.definition:FlowDefinition.DraftSaved': ('graph', 'settings'),
    'domain.flows.definition:FlowDefinition.Published': ('number', 'graph', 'settings'),
    'domain.flows.instance:FlowInstance.AfterSignersPending': ('task',),
    'domain.flows.instance:FlowInstance.ArrivedAtJoin': ('node', 'token'),
    'domain.flows.instance:FlowInstance.BranchTaken': ('token', 'gateway', 'targets', 'inputs'),
    'domain.flows.instance:FlowInstance.CarbonCopied': ('by', 'to', 'note'),
    'domain.flows.instance:FlowInstance.CarbonCopyRead': ('by',),
    'domain.flows.instance:FlowInstance.Chained': ('next_flow', 'next_instance', 'problem'),
    'domain.flows.instance:FlowInstance.ChildCancelled': ('token', 'node', 'child_instance', 'reason'),
    'domain.flows.instance:FlowInstance.ChildFinished': ('token', 'node', 'child_instance', 'outcome', 'data'),
    'domain.flows.instance:FlowInstance.ChildNotStarted': ('token', 'node', 'child_flow', 'problem'),
    'domain.flows.instance:FlowInstance.ChildStarted': ('token', 'node', 'child_flow', 'child_instance'),
    'domain.flows.instance:FlowInstance.Completed': (),
    'domain.flows.instance:FlowInstance.Created': (),
    'domain.flows.instance:FlowInstance.DelegationAnswered': ('task', 'by', 'comment'),
    'domain.flows.instance:FlowInstance.DepartmentMoved': ('from_department', 'to_department', 'by', 'reason'),
    'domain.flows.instance:FlowInstance.Finished': ('status', 'reason'),
    'domain.flows.instance:FlowInstance.Forked': ('token', 'node', 'children', 'join'),
    'domain.flows.instance:FlowInstance.FormEdited': ('node', 'patch', 'old_values', 'data', 'by', 'task', 'reason'),
    'domain.flows.instance:FlowInstance.Joined': ('node', 'tokens', 'token'),
    'domain.flows.instance:FlowInstance.Jumped': ('from_nodes', 'target', 'by', 'reason', 'token', 'cancelled'),
    'domain.flows.instance:FlowInstance.Migrated': ('from_version', 'to_version', 'mapping', 'renames', 'moves', 'settings', 'retired_hidden', 'by', 'reason', 'migration_id'),
    'domain.flows.instance:FlowInstance.NodeEntered': ('token', 'node'),
    'domain.flows.instance:FlowInstance.NodeSkipped': ('token', 'node', 'reason'),
    'domain.flows.instance:FlowInstance.OverrideApproved': ('override', 'action', 'by'),
    'domain.flows.instance:FlowInstance.OverrideDeclined': ('override', 'by', 'reason'),
    'domain.flows.instance:FlowInstance.OverrideRequested': ('override', 'action', 'params', 'by', 'reason'),
    'domain.flows.instance:FlowInstance.PauseEnded': ('token', 'node', 'early_by', 'reason'),
    'domain.flows.instance:FlowInstance.PauseStarted': ('token', 'node', 'due_at'),
    'domain.flows.instance:FlowInstance.Remarked': ('by', 'text'),
    'domain.flows.instance:FlowInstance.Resubmitted': ('by',),
    'domain.flows.instance:FlowInstance.Returned': ('task', 'node', 'by', 'target', 'comment', 'token', 'reason_code'),
    'domain.flows.instance:FlowInstance.SignerAdded': ('task', 'by', 'signer', 'position', 'comment'),
    'domain.flows.instance:FlowInstance.SignerApproved': ('task', 'by', 'comment'),
    'domain.flows.instance:FlowInstance.SignerRemoved': ('task', 'by', 'signer', 'position', 'comment'),
    'domain.flows.instance:FlowInstance.SlaBreached': ('task', 'node', 'due_at'),
    'domain.flows.instance:FlowInstance.SlaWarned': ('task', 'node', 'due_at'),
    'domain.flows.instance:FlowInstance.Started': ('definition_key', 'definition_version', 'business_type', 'form_version', 'subject', 'fund_account', 'department_id', 'initiator', 'title', 'data', 'empty_assignee', 'deduplication', 'chained_from', 'initiator_facts', 'parent_instance', 'parent_token'),
    'domain.flows.instance:FlowInstance.SystemTaskDone': ('token', 'node', 'hook'),
    'domain.flows.instance:FlowInstance.TaskApproved': ('task', 'node', 'by', 'comment'),
    'domain.flows.instance:FlowInstance.TaskClaimed': ('task', 'node', 'by', 'pool'),
    'domain.flows.instance:FlowInstance.TaskClosed': ('task', 'outcome'),
    'domain.flows.instance:FlowInstance.TaskDelegated': ('task', 'by', 'to', 'comment'),
    'domain.flows.instance:FlowInstance.TaskOpened': ('task', 'token', 'node', 'mode', 'candidates', 'threshold', 'sla_due_at', 'sla_warn_at', 'independent_of', 'excluded'),
    'domain.flows.instance:FlowInstance.TaskReassigned': ('task', 'by', 'candidates', 'reason'),
    'domain.flows.instance:FlowInstance.TaskRejected': ('task', 'node', 'by', 'comment', 'reason_code'),
    'domain.flows.instance:FlowInstance.TaskTakenBack': ('task', 'node', 'by', 'comment', 'token', 'cancelled'),
    'domain.flows.instance:FlowInstance.TaskTransferred': ('task', 'by', 'to', 'comment'),
    'domain.flows.instance:FlowInstance.TokenEnded': ('token', 'node'),
    'domain.flows.instance:FlowInstance.Urged': ('task', 'by'),
    'domain.flows.instance:FlowInstance.SlaReminded': ('task', 'node', 'count', 'next_at', 'rule'),
    'domain.flows.instance:FlowInstance.TaskEscalated': ('task', 'node', 'mode', 'added', 'candidates', 'rule'),
    'domain.flows.instance:FlowInstance.TimeoutActed': ('task', 'node', 'action', 'comment', 'rule', 'problem'),
    'domain.flows.report:SavedReport.Created': ('key', 'name', 'spec', 'owner'),
    'domain.flows.report:SavedReport.Revised': ('name', 'spec'),
    'domain.flows.report:SavedReport.Deleted': (),
    'domain.flows.report:Cockpit.Created': ('key', 'name', 'reports', 'owner'),
    'domain.flows.report:Cockpit.Revised': ('name', 'reports'),
    'domain.flows.report:Cockpit.Deleted': (),
    'domain.flows.instance:FlowInstance.RuleFired': ('rule', 'trigger', 'node', 'task', 'held', 'inputs', 'actions', 'error'),
    'domain.flows.instance:FlowInstance.RuleArmed': ('task', 'node', 'rule', 'at'),
    'domain.flows.instance:FlowInstance.RuleAssigned': ('task', 'node', 'rule', 'mode', 'added', 'candidates'),
    'domain.flows.instance:FlowInstance.TaskAutoApproved': ('task', 'node', 'rule', 'reason'),
    'domain.flows.instance:FlowInstance.RuleFlowStarted': ('rule', 'flow', 'instance', 'problem'),
    'domain.flows.instance:FlowInstance.TimeoutArmed': ('task', 'node', 'at', 'rule'),
    'domain.flows.migration_record:InstanceMigration.Applied': ('unsafe', 'migrated', 'conflict'),
    'domain.flows.migration_record:InstanceMigration.Created': (),
    'domain.flows.migration_record:InstanceMigration.InstanceMigrated': ('instance_id', 'outcome', 'reasons', 'moves', 'current_nodes', 'current_nodes_after', 'tasks_opened', 'instance_version'),
    'domain.flows.migration_record:InstanceMigration.Planned': ('definition_key', 'from_version', 'to_version', 'mapping', 'reason', 'dry_run', 'by', 'items'),
    'domain.forms.business_type:BusinessType.Created': ('code', 'name', 'description', 'subjects'),
    'domain.forms.business_type:BusinessType.DraftSaved': ('subject', 'schema'),
    'domain.forms.business_type:BusinessType.Published': ('number', 'forms'),
    'domain.forms.customer:Customer.Created': (),
    'domain.forms.customer:Customer.Registered': ('fund_account', 'profile'),
    'domain.forms.customer:Customer.Updated': ('profile', 'old_profile'),
    'domain.forms.data_source:DataSource.Created': (),
    'domain.forms.data_source:DataSource.Defined': ('key', 'name', 'kind', 'config'),
    'domain.forms.record:FormRecord.Created': (),
    'domain.forms.record:FormRecord.Saved': ('patch', 'old_values', 'data', 'node', 'inputs'),
    'domain.forms.record:FormRecord.Started': ('business_type_id', 'business_type', 'form_version', 'subject', 'fund_account', 'department_id', 'data', 'node', 'inputs'),
    'domain.leads.binding:Binding.Bound': ('phone', 'kind', 'holder', 'department_id', 'bound_at', 'source'),
    'domain.leads.binding:Binding.Created': (),
    'domain.leads.binding:Binding.Rebound': ('phone', 'kind', 'holder', 'department_id', 'bound_at', 'source'),
    'domain.leads.binding:Binding.Unbound': ('phone', 'reason'),
    'domain.leads.channel:Channel.Created': ('code', 'name', 'channel_type', 'promotion_type', 'department_id'),
    'domain.leads.channel:Channel.LandingPageConfigured': ('key', 'config'),
    'domain.leads.channel:Channel.TokenIssued': ('token_hash',),
    'domain.leads.channel:Channel.Updated': ('name', 'channel_type', 'promotion_type', 'department_id', 'enabled'),
    'domain.leads.lead:Lead.Assigned': ('kind', 'department_id', 'owner', 'at', 'reason', 'decisions', 'previous_owner', 'previous_department', 'channel_code'),
    'domain.leads.lead:Lead.CallRecorded': ('started_at', 'duration_seconds', 'connected', 'by', 'channel_code', 'owner', 'department_id'),
    'domain.leads.lead:Lead.ContentBlocked': ('kind', 'content', 'at', 'by', 'sensitive_hits'),
    'domain.leads.lead:Lead.Created': ('phone', 'intake', 'status', 'reason', 'flag', 'department_id', 'owner', 'decisions'),
    'domain.leads.lead:Lead.FollowedUp': ('content', 'connected', 'next_at', 'opening_intent', 'deposit_intent', 'tags', 'at', 'by', 'channel_code', 'owner', 'department_id'),
    'domain.leads.lead:Lead.IntakeRecorded': ('intake', 'status', 'reason', 'flag', 'department_id', 'owner', 'decisions'),
    'domain.leads.lead:Lead.OpeningProgressed': ('kind', 'node', 'at', 'external_id', 'attribution', 'channel_code', 'owner', 'department_id'),
    'domain.leads.lead:Lead.Recycled': ('rule', 'to_department', 'at', 'days', 'previous_owner', 'previous_department', 'channel_code'),
    'domain.leads.lead:Lead.RecycledAfterWorkingDays': ('rule', 'to_department', 'at', 'days', 'due_at', 'previous_owner', 'previous_department', 'channel_code'),
    'domain.leads.lead:Lead.SmsSent': ('content', 'template', 'at', 'by', 'sensitive_hits', 'channel_code', 'owner', 'department_id'),
    'domain.leads.lead:Lead.SopExecuted': ('task', 'action', 'reference', 'at', 'content', 'channel_code', 'owner', 'department_id', 'sensitive_hits'),
    'domain.leads.lead:Lead.WechatAdded': ('at', 'by', 'nickname', 'channel_code', 'owner', 'department_id'),
    'domain.leads.rulebook:RuleBook.Allocated': ('decisions', 'states'),
    'domain.leads.rulebook:RuleBook.Created': (),
    'domain.leads.rulebook:RuleBook.RecycleRuleSaved': ('rule',),
    'domain.leads.rulebook:RuleBook.RuleSaved': ('rule',),
    'domain.leads.segment:Segment.Changed': ('name', 'filter'),
    'domain.leads.segment:Segment.Created': (),
    'domain.leads.segment:Segment.Saved': ('key', 'name', 'filter'),
    'domain.leads.segment:SopClaim.Claimed': ('task', 'lead', 'at'),
    'domain.leads.segment:SopClaim.Created': (),
    'domain.leads.segment:SopClaim.Failed': ('error', 'at'),
    'domain.leads.segment:SopClaim.Reclaimed': ('at',),
    'domain.leads.segment:SopClaim.Sent': ('reference', 'at'),
    'domain.leads.segment:SopTask.Blocked': ('at', 'content', 'sensitive_hits'),
    'domain.leads.segment:SopTask.Changed': ('config',),
    'domain.leads.segment:SopTask.Created': (),
    'domain.leads.segment:SopTask.Ran': ('on', 'at', 'contacts'),
    'domain.leads.segment:SopTask.Saved': ('config',),
    'domain.leads.segment:SopTask.Scoped': ('departments',),
    'domain.leads.settings:LeadSettings.BlacklistChanged': ('added', 'removed', 'reason'),
    'domain.leads.settings:LeadSettings.Configured': ('config',),
    'domain.leads.settings:LeadSettings.Created': (),
    'domain.leads.settings:LeadSettings.SensitiveWordsChanged': ('added', 'removed'),
}


def _event_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for package in ("domain.access", "domain.archive", "domain.calendar", "domain.feerates", "domain.flows",
                    "domain.forms", "domain.leads"):
        # walk_packages, not iter_modules: flows keeps FlowInstance in a package (domain.flows.instance)
        for module_info in pkgutil.walk_packages(importlib.import_module(package).__path__, prefix=f"{package}."):
            module = importlib.import_module(module_info.name)
            for aggregate in vars(module).values():
                if (inspect.isclass(aggregate) and issubclass(aggregate, LedgerAggregate)
                        and aggregate.__module__ == module.__name__):
                    for name, value in vars(aggregate).items():
                        if name != "Event" and inspect.isclass(value) and issubclass(value, CanMutateAggregate):
                            found[get_topic(value)] = value
    return found


def test_event_topics_are_the_stored_ones():
    assert sorted(_event_classes()) == sorted(STORED)


def test_event_fields_are_the_stored_ones():
    for topic, event_class in _event_classes().items():
        envelope = CREATED_ENVELOPE if issubclass(event_class, CanInitAggregate) else ENVELOPE
        fields = tuple(f.name for f in dataclasses.fields(event_class))
        assert fields == envelope + STORED[topic], topic


def test_stored_topics_resolve_to_the_classes_handlers_name():
    for topic, event_class in _event_classes().items():
        assert resolve_topic(topic) is event_class
