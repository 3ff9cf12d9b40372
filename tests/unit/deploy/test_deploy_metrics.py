"""Every metric a shipped Grafana dashboard or the PrometheusRule uses is one the code
exports: the names come from the prometheus_client registry after importing every module of
services/ and graph/ (each metric is defined at module level), expanded as the exposition
format writes them (a counter ``x`` is scraped as ``x_total``, a histogram as ``x_bucket``,
``x_sum``, ``x_count``), plus the process and Python collectors prometheus_client registers
by default and Prometheus' own ``up``."""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

import graph
import services

CHART = Path(__file__).resolve().parents[3] / "helm" / "quantflow"
# What Prometheus adds to every scrape itself.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "unknown": ("",),
}


@functools.cache
def exported_series() -> frozenset[str]:
    for package in (services, graph):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    names = set(PROMETHEUS_SERIES)
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return frozenset(names)


def metric_names(expression: str) -> set[str]:
    """The metric names in a PromQL expression (or a Grafana ``label_values(metric, l)``),
    read from its syntax tree (promql-parser); an expression that does not parse fails."""
    values = re.fullmatch(r"\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,.*\)\s*", expression)
    if values:
        return {values.group(1)}
    # Grafana's range variable becomes a duration PromQL accepts.
    tree = promql_parser.parse(expression.replace("$__rate_interval", "5m"))
    return set(_selected(tree))


def _selected(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            yield node.name
        return
    if isinstance(node, promql_parser.MatrixSelector):
        yield from _selected(node.vector_selector)
        return
    for child in ("expr", "lhs", "rhs", "param"):
        if hasattr(node, child):
            yield from _selected(getattr(node, child))
    for argument in getattr(node, "args", None) or ():
        yield from _selected(argument)


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted((CHART / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                yield f"{path.name}: ${variable['name']}", variable["query"]["query"]


def rule_expressions() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((CHART / "rules" / "quantflow-rules.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule['alert']}", rule["expr"]


def test_an_expression_that_does_not_parse_fails() -> None:
    with pytest.raises(ValueError, match="unclosed left parenthesis"):
        metric_names("sum by (kind) (rate(quantflow_x_total[5m])")


def test_the_metric_names_are_read_from_expressions() -> None:
    assert metric_names(
        'sum by (kind) (rate(quantflow_x_total{namespace=~"$ns",a="b c"}[$__rate_interval]))'
        " / on (pod) group_left max(quantflow_y)"
    ) == {"quantflow_x_total", "quantflow_y"}
    assert metric_names("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))") == {
        "h_bucket"
    }
    assert metric_names("label_values(process_start_time_seconds, namespace)") == {
        "process_start_time_seconds"
    }


def test_a_metric_the_code_does_not_export_is_caught() -> None:
    names = metric_names("rate(quantflow_ingest_messages_total[5m]) + quantflow_made_up_total")
    assert names - exported_series() == {"quantflow_made_up_total"}


@pytest.mark.parametrize(
    ("where", "expression"),
    [*dashboard_expressions(), *rule_expressions()],
    ids=lambda value: value if len(value) < 60 else value[:57] + "...",
)
def test_only_metrics_the_code_exports(where: str, expression: str) -> None:
    names = metric_names(expression)
    assert names, f"{where}: no metric in {expression!r}"
    assert not names - exported_series(), f"{where}: not exported: {names - exported_series()}"


def test_every_dashboard_and_rule_group_is_shipped() -> None:
    dashboards = {p.stem for p in (CHART / "dashboards").glob("*.json")}
    assert dashboards == {"data-path", "jobs", "alerts", "api"}
    groups = {where.split()[1] for where, _ in rule_expressions()}
    assert {
        "QuantFlowFeedStalled",
        "QuantFlowStorageFallingBehind",
        "QuantFlowBacktestErrors",
    } <= groups
