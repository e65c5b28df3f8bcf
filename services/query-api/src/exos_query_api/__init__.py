"""EXOS query-api: process mining, OCPM, product analytics and site health over
ClickHouse."""
