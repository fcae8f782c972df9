"""Small catalog files in the real formats (written for the tests; no shared data is copied)."""

from __future__ import annotations

import json
from typing import Any

DATAJSON: dict[str, Any] = {
    "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
    "dataset": [
        {
            "title": "Broadband Deployment",
            "description": "Fixed broadband deployment by census block.",
            "keyword": ["broadband", "deployment"],
            "modified": "2024-06-01",
            "issued": "2020-01-15",
            "publisher": {"name": "Office of Economics"},
            "contactPoint": {"fn": "Data Team", "hasEmail": "mailto:data@example.gov"},
            "identifier": "https://example.gov/ds/1",
            "accessLevel": "public",
            "accrualPeriodicity": "R/P6M",
            "bureauCode": ["356:00"],
            "programCode": ["000:000"],
            "distribution": [{"downloadURL": "https://example.gov/ds/1.csv", "mediaType": "text/csv"}],
        },
        {
            "title": "Enforcement Actions",
            "description": "",
            "keyword": [],
            "modified": "2019-01-01",
            "publisher": {"name": "Enforcement Bureau"},
            "contactPoint": {"fn": "No Reply", "hasEmail": "mailto:no-reply@example.gov"},
            "identifier": "https://example.gov/ds/2",
            "accessLevel": "non-public",
            "accrualPeriodicity": "R/P1M",
        },
    ],
}

CODEJSON: dict[str, Any] = {
    "agency": "EXA",
    "version": "2.0",
    "releases": [
        {
            "name": "permit-tracker",
            "description": "Tracks permit applications and approvals for field offices.",
            "tags": ["permits"],
            "contact": {"email": "dev@example.gov", "name": "Dev Team"},
            "repositoryURL": "https://github.com/example/permit-tracker",
            "permissions": {"usageType": "openSource", "licenses": [{"name": "MIT"}]},
            "date": {"created": "2018-03-01", "lastModified": "2023-05-02"},
        },
        {"name": "legacy-tool", "description": "Old tool.", "contact": {"name": "Nobody"}},
    ],
}

CN_OPENDATA: list[dict[str, Any]] = [
    {
        "资源名称": "河湖水情信息",
        "资源分类": "环境与资源保护/特定区域环境保护",
        "资源摘要": "该数据是市水务局提供的河湖水情信息，包括河名、站名、水位、流量等属性字段。",
        "资源所有权单位": "市水务局",
        "关键字说明": "水务；河湖水情",
        "资源类型": "表格",
        "资源出版日期": "2020年12月31日",
    },
    {"资源名称": "", "资源摘要": "没有名称的记录"},
    {"资源名称": "律师名录", "资源摘要": "律师姓名、身份证号码与执业证号", "资源出版日期": "去年"},
]

CSV = (
    "信息资源名称,信息资源提供方,信息资源摘要,共享类型,共享方式,更新周期,发布日期,信息项,联系邮箱\n"
    "不动产登记信息,自然资源局,不动产登记结果,有条件共享,共享平台,每月,2023-01-05,权利人:string!;坐落,a@b.cn\n"
    ",民政局,无名称,无条件共享,,,,,\n"
    "婚姻登记信息,民政局,婚姻登记,无条件共享,共享平台,每季度,2023/13/40,,x@y.cn\n"
)


def as_bytes(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()
