"""Response models of the flow statistics: one per figure, rows and totals (durations in seconds,
rates as shares 0-1 rounded to 4 places; null where nothing was there to average)."""
from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, Field


class Bucket(BaseModel):
    period: date | None = Field(None, description="Start of the day / week (Monday) / month with `grain`")


class VolumeCounts(BaseModel):
    started: int
    completed: int
    rejected: int
    withdrawn: int
    terminated: int
    running: int


class VolumeRow(Bucket, VolumeCounts):
    business_type: str


class VolumePublic(BaseModel):
    rows: list[VolumeRow] = Field(description="Per period and business type, most started first (热门业务)")
    total: VolumeCounts


class WorkingTimes(BaseModel):
    avg_working_seconds: float | None
    p50_working_seconds: float | None
    p90_working_seconds: float | None


class SlowFigures(WorkingTimes):
    ended: int
    avg_wall_seconds: float | None
    p50_wall_seconds: float | None
    p90_wall_seconds: float | None


class SlowRow(Bucket, SlowFigures):
    business_type: str


class SlowBusinessesPublic(BaseModel):
    rows: list[SlowRow] = Field(description="Ended instances per business type, slowest on average first")
    total: SlowFigures


class SlowNodeRow(Bucket, WorkingTimes):
    definition_key: str
    node: str
    visits: int


class SlowNodesPublic(BaseModel):
    rows: list[SlowNodeRow] = Field(description="Decided visits per node, slowest median first")


class SlaFigures(BaseModel):
    with_sla: int = Field(description="Decided visits that had an SLA")
    met: int
    breached: int
    rate: float | None = Field(description="met / with_sla (时效达成率)")


class SlaByNode(Bucket, SlaFigures):
    definition_key: str
    node: str


class SlaByDepartment(Bucket, SlaFigures):
    department_id: UUID | None


class SlaByHandler(Bucket, SlaFigures):
    handler: str


class TimelinessPublic(BaseModel):
    by_node: list[SlaByNode]
    by_department: list[SlaByDepartment]
    by_handler: list[SlaByHandler] = Field(description="A countersigned visit counts for each who decided it")
    total: SlaFigures


class FirstPassFigures(BaseModel):
    completed: int
    first_pass: int = Field(description="Completed without ever being returned (一次通过)")
    rate: float | None


class FirstPassRow(Bucket, FirstPassFigures):
    business_type: str


class FirstPassPublic(BaseModel):
    rows: list[FirstPassRow]
    total: FirstPassFigures


class TurnedDown(BaseModel):
    rejections: int
    returns: int


class ReasonRow(Bucket, TurnedDown):
    definition_key: str
    definition_version: int
    reason_code: str = Field(description="Empty when none was given")
    counted: bool | None = Field(description="Counted for assessment (驳回计入考核) by the flow version's "
                                             "reason codes; null for a code the version does not define")


class RejectionRow(ReasonRow):
    node: str
    handler: str


class RejectionsPublic(BaseModel):
    rows: list[RejectionRow]
    by_reason: list[ReasonRow]
    total: TurnedDown


class HandlerRow(Bucket):
    handler: str
    decisions: int
    approved: int
    rejected: int
    returned: int
    avg_handling_working_seconds: float | None
    avg_handling_seconds: float | None


class HandlersPublic(BaseModel):
    rows: list[HandlerRow] = Field(description="People ranked by decisions taken (system actors left out)")


class StageFigures(BaseModel):
    visits: int
    avg_working_seconds: float | None
    p50_working_seconds: float | None
    avg_wall_seconds: float | None


class StageRow(Bucket, StageFigures):
    department_id: UUID | None


class StagesPublic(BaseModel):
    rows: list[StageRow] = Field(description="Decided visits per department they belonged to (环节用时)")
    total: StageFigures


class CycleKpi(BaseModel):
    completed: int
    avg_working_days: float | None
    target_days: float
    met: bool | None


class FirstPassKpi(FirstPassFigures):
    target: float
    met: bool | None


class KpiStage(StageRow):
    avg_working_days: float | None


class KpiPublic(BaseModel):
    business_type: str
    working_day_seconds: float = Field(description="The working day the days are counted in (7.5 h)")
    cycle: CycleKpi = Field(description="Average working days of completed instances against the target")
    first_pass: FirstPassKpi
    stages: list[KpiStage]
    rejection_reasons: list[ReasonRow]
