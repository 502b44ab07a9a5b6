"""Translations of the CloudWatch monitoring types: metric alarms and dashboards.

The sandbox publishes no metrics and moto evaluates no alarm (it shows each as OK), so none ever
notifies; what the sandbox shows is that each alarm and the dashboard are accepted as declared.
"""

from __future__ import annotations

from typing import Any

from infra.sandbox.translator_support import _client, _name, _tags_list

# Pulumi input → PutMetricAlarm parameter, for the plain values an alarm of the program sets.
_ALARM_FIELDS = (
    ("namespace", "Namespace"),
    ("metricName", "MetricName"),
    ("statistic", "Statistic"),
    ("comparisonOperator", "ComparisonOperator"),
    ("treatMissingData", "TreatMissingData"),
    ("alarmDescription", "AlarmDescription"),
)
_ALARM_NUMBERS = (
    ("period", "Period"),
    ("evaluationPeriods", "EvaluationPeriods"),
    ("datapointsToAlarm", "DatapointsToAlarm"),
)


def metric_alarm(mocks, r):
    inputs = r.inputs
    name = _name(r, 255)
    kwargs: dict[str, Any] = {"AlarmName": name, "Threshold": float(inputs["threshold"])}
    kwargs.update({key: inputs[field] for field, key in _ALARM_FIELDS if inputs.get(field) not in (None, "")})
    # Pulumi's mock runtime passes numbers as floats; CloudWatch wants whole numbers.
    kwargs.update({key: int(inputs[field]) for field, key in _ALARM_NUMBERS if inputs.get(field) is not None})
    kwargs["Dimensions"] = [{"Name": k, "Value": v} for k, v in (inputs.get("dimensions") or {}).items()]
    kwargs["ActionsEnabled"] = bool(inputs.get("actionsEnabled", True))
    for field, key in (("alarmActions", "AlarmActions"), ("okActions", "OKActions")):
        kwargs[key] = list(inputs.get(field) or [])
    kwargs["Tags"] = _tags_list(inputs.get("tags"))
    cloudwatch = _client(mocks, "cloudwatch")
    cloudwatch.put_metric_alarm(**kwargs)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return name, {"arn": alarm["AlarmArn"], "name": name}


def dashboard(mocks, r):
    name = r.inputs["dashboardName"]
    cloudwatch = _client(mocks, "cloudwatch")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=r.inputs["dashboardBody"])
    (entry,) = [d for d in cloudwatch.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
                if d["DashboardName"] == name]  # fmt: skip
    return name, {"dashboardArn": entry["DashboardArn"], "dashboardName": name}


MONITORING_TRANSLATORS = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": dashboard,
}
