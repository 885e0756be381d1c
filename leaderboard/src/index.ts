/** @dbp-bench/leaderboard: entry schema, RobustBench import, static site generator. */
export * from './entry';
export * from './robustbench';
export * from './site';
export * from './study';
export { esc, link, neutraliseBidi, plainText, safeUrl } from './html';
export { browserUrlText, httpUrl, urlProblem } from './url';
export * from './by-defense';
export { drawHistogramPlot, drawMetricsTable, robustnessCurvePlot } from './plots';
