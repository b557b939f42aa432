// A ticket's current stage and due time, offline: the server's stages where it has sent them, moved
// on by events still in the outbox, and for a ticket not yet synced computed from the pulled policy
// with the same window rule as the server (fieldvisit-sync-protocol, Policy::window_s).

const BUILTIN = { classify: 3600, dispatch: 3600, on_site: 7200, close: 14400 };

export function windowS(policy, stage, severity, category) {
  const base = policy?.stages?.find((w) => w.name === stage)?.window_s ?? BUILTIN[stage];
  let best = null;
  for (const o of policy?.overrides ?? []) {
    const w = o.stages?.[stage];
    if (w === undefined) continue;
    if ((o.severity && o.severity !== severity) || (o.category && o.category !== category)) continue;
    const keys = (o.severity ? 1 : 0) + (o.category ? 1 : 0);
    if (!best || keys >= best.keys) best = { keys, w };
  }
  return best ? best.w : base;
}

const at = (s) => Date.parse(s);

/** {stage, dueAt (ms or null), closed} for a ticket and its events (local ones carry _pending). */
export function progress(ticket, events, policy) {
  const mine = events.filter((e) => e.ticket_id === ticket.id).sort((a, b) => at(a.occurred_at) - at(b.occurred_at));
  let stage;
  let dueAt = null;
  if (ticket.stages?.length) {
    stage = ticket.stage;
    const cycle = Math.max(...ticket.stages.map((s) => s.cycle));
    const current = ticket.stages.find((s) => s.name === stage && s.cycle === cycle);
    dueAt = current?.due_at ? at(current.due_at) : null;
  } else if (ticket.resolved_on_the_spot) {
    stage = 'done';
  } else {
    stage = 'classify';
    dueAt = at(ticket.reported_at) + windowS(policy, 'classify', ticket.severity, ticket.category) * 1000;
  }
  // Events the server has not counted yet move the stage on as the server will.
  let resolved = false;
  let feedback = false;
  for (const e of mine) {
    if (e.type === 'resolved') resolved = true;
    if (e.type === 'feedback') feedback = true;
    if (!e._pending) continue;
    if (e.type === 'on_site' && stage === 'on_site') {
      stage = 'close';
      dueAt = at(e.occurred_at) + windowS(policy, 'close', ticket.severity, ticket.category) * 1000;
    }
    if (stage === 'close' && resolved && feedback) {
      stage = 'done';
      dueAt = null;
    }
  }
  return { stage, dueAt, closed: stage === 'done' || ticket.status === 'closed', resolved, feedback, onSite: mine.some((e) => e.type === 'on_site') };
}
