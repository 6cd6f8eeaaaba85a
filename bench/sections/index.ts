/**
 * The benchmark's sections, run in this order. To add one: write bench/sections/<name>.ts exporting a `Section`
 * (see bench/harness.ts) and add it here; `BENCH_ONLY=<name>` runs it alone.
 */
import { Section } from '../harness';
import { budgets } from './budgets';
import { completions } from './completions';
import { cpu } from './cpu';
import { durable } from './durable';
import { idle } from './idle';
import { newestPage } from './newest-page';
import { observability } from './observability';
import { queries } from './queries';
import { redisOutage } from './redis-outage';
import { search } from './search';
import { throughput } from './throughput';
import { tree } from './tree';
import { ttft } from './ttft';

export const SECTIONS: Section[] = [ttft, cpu, throughput, idle, queries, newestPage, durable, completions, redisOutage, observability, budgets, search, tree];
