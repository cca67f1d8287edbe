import type { compareSegments, segmentChanges } from '../services/run-history.js';

export type SegmentChangesResult = NonNullable<Awaited<ReturnType<typeof segmentChanges>>>;
export type CompareResult = NonNullable<Awaited<ReturnType<typeof compareSegments>>>;
