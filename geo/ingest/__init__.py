"""The files people bring and take away: reading CSV/XLSX/GeoJSON/GeoPackage bounded and
checked row by row, imports (all or nothing), exports, the spreadsheet writer, the demo."""
