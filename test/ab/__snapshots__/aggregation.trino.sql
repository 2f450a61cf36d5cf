SELECT v AS variant, COUNT(*) AS units, COUNT(*) AS n_rows,
  SUM(x0) AS s0,
  SUM(x1) AS s1,
  SUM(x2) AS s2,
  SUM(x3) AS s3,
  SUM(x4) AS s4,
  SUM(x5) AS s5,
  SUM(x0 * x0) AS p0_0,
  SUM(x1 * x1) AS p1_1,
  SUM(x0 * x1) AS p0_1,
  SUM(x2 * x2) AS p2_2,
  SUM(x3 * x3) AS p3_3,
  SUM(x2 * x3) AS p2_3,
  SUM(x4 * x4) AS p4_4,
  SUM(x5 * x5) AS p5_5
FROM (SELECT CAST("variant" AS VARCHAR) AS v, COALESCE(CAST("clicks" AS DOUBLE), 0) AS x0, COALESCE(CAST("impressions" AS DOUBLE), 0) AS x1, COALESCE(CAST("session_seconds" AS DOUBLE), 0) AS x2, COALESCE(CAST("pre_session_seconds" AS DOUBLE), 0) AS x3, COALESCE(CAST("converted" AS DOUBLE), 0) AS x4, COALESCE(CAST("latency_ms" AS DOUBLE), 0) AS x5 FROM hive.analytics.users) AS r
GROUP BY v;

SELECT COALESCE(SUM(CASE WHEN lo <> hi THEN 1 ELSE 0 END), 0) AS multi_variant,
  COALESCE(SUM(CASE WHEN n_rows > 1 THEN 1 ELSE 0 END), 0) AS repeated
FROM (
  SELECT u, MIN(v) AS lo, MAX(v) AS hi, COUNT(*) AS n_rows
  FROM (SELECT "user_id" AS u, CAST("variant" AS VARCHAR) AS v FROM hive.analytics.users) AS r
  GROUP BY u
) AS t;

SELECT variant, COUNT(*) AS units, SUM(n_rows) AS n_rows,
  SUM(x0) AS s0,
  SUM(x1) AS s1,
  SUM(x2) AS s2,
  SUM(x3) AS s3,
  SUM(x4) AS s4,
  SUM(x0 * x0) AS p0_0,
  SUM(x1 * x1) AS p1_1,
  SUM(x0 * x1) AS p0_1,
  SUM(x2 * x2) AS p2_2,
  SUM(x3 * x3) AS p3_3,
  SUM(x2 * x3) AS p2_3,
  SUM(x4 * x4) AS p4_4
FROM (
  SELECT CASE WHEN MIN(v) = MAX(v) THEN MIN(v) WHEN MIN(v) IS NULL THEN NULL ELSE '__multiple__' END AS variant,
    COUNT(*) AS n_rows, SUM(x0) AS x0, SUM(x1) AS x1, SUM(x2) AS x2, SUM(x3) AS x3, MAX(x4) AS x4
  FROM (SELECT "user_id" AS u, CAST("variant" AS VARCHAR) AS v, COALESCE(CAST("click" AS DOUBLE), 0) AS x0, COALESCE(CAST("impression" AS DOUBLE), 0) AS x1, COALESCE(CAST("session_seconds" AS DOUBLE), 0) AS x2, COALESCE(CAST("pre_session_seconds" AS DOUBLE), 0) AS x3, COALESCE(CAST("converted" AS DOUBLE), 0) AS x4 FROM hive.analytics.users) AS r
  GROUP BY u
) AS units
GROUP BY variant;
