"""Write ``data/站点.csv``: a union office's own station list, as offices keep them.

GBK-encoded, Chinese headers (名称, 经度, 纬度, 级别, 地址, 开放时间, 服务), no 编号, no 状态, no
建成日期, and 高德 (GCJ-02) coordinates read off the 高德 map. The README's walkthrough
imports it (``--crs gcj02 --status open``); importing it without those flags is refused.
The points are WGS-84 places in the demo district (below), shifted to GCJ-02 here.
Run: ``python data/make_office.py`` (deterministic).
"""
from __future__ import annotations

import csv
from pathlib import Path

import prcoords

HERE = Path(__file__).resolve().parent

# name, WGS-84 lon, lat, level, address, hours, services
STATIONS = [
    ("双塔寺街美团骑手驿站", 112.582931, 37.849114, "区总工会级", "太原市迎泽区双塔寺街31号", "24小时", "饮水、充电、休息、热饭"),
    ("郝庄镇环卫工人驿站", 112.615402, 37.853318, "区总工会级", "太原市迎泽区郝庄镇郝庄村", "06:00-20:00", "饮水、休息、如厕"),
    ("建设南路邮政爱心驿站", 112.575200, 37.842500, "市总工会级", "太原市迎泽区建设南路66号", "周一至周五 9:00-17:00", "饮水、休息、充电"),
    ("老军营顺丰快递驿站", 112.548612, 37.845537, "区总工会级", "太原市迎泽区老军营南街12号", "08:00-22:00", "饮水、充电、休息"),
    ("桥东街出租车司机驿站", 112.578934, 37.861265, "市总工会级", "太原市迎泽区桥东街8号", "24小时", "饮水、如厕、休息、热饭"),
    ("文庙社区工会驿站", 112.559851, 37.869320, "区总工会级", "太原市迎泽区文庙巷5号", "08:00-20:00", "饮水、休息、雨具"),
    ("迎泽大街建行爱心驿站", 112.553147, 37.858871, "省总工会级", "太原市迎泽区迎泽大街188号", "周一至周五 9:00-17:00", "饮水、如厕、休息、药箱"),
    ("东岗路加油站司机之家", 112.596218, 37.862044, "市总工会级", "太原市迎泽区东岗路102号", "24小时", "饮水、如厕、休息、充电"),
]

HEADER = ["名称", "经度", "纬度", "级别", "地址", "开放时间", "服务"]


def main() -> None:
    rows = []
    for name, lon, lat, level, address, hours, services in STATIONS:
        glat, glon = prcoords.wgs_gcj((lat, lon))  # prcoords takes (lat, lon)
        rows.append([name, f"{glon:.6f}", f"{glat:.6f}", level, address, hours, services])
    with open(HERE / "站点.csv", "w", encoding="gbk", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)


if __name__ == "__main__":
    main()
