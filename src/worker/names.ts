// Worker names as in Celery: %h host name, %n host without domain, %d domain, %i pid.
import { hostname } from 'node:os';

export function expandWorkerName(pattern: string, host = hostname(), pid = process.pid): string {
  const dot = host.indexOf('.');
  const short = dot === -1 ? host : host.slice(0, dot);
  const domain = dot === -1 ? '' : host.slice(dot + 1);
  return pattern.replace(/%([hndi%])/g, (_match, code: string) =>
    code === 'h' ? host : code === 'n' ? short : code === 'd' ? domain : code === 'i' ? String(pid) : '%',
  );
}
