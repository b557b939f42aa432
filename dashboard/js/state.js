// What every view shares: the signed-in user, area and team names, and the screen-reader announcer.

export const session = { user: null, areas: new Map(), teams: new Map(), users: new Map() };

export function announce(text) {
  const el = document.getElementById('announcer');
  el.textContent = '';
  // Set after a tick so screen readers read a repeated message again.
  setTimeout(() => { el.textContent = text; }, 50);
}

export const areaName = (id) => session.areas.get(id)?.name ?? id ?? '—';
/** A user's name where the caller may list users (supervisors, admins) or it is the caller; else the id. */
export function userName(id) {
  if (id === session.user?.id) return session.user.display_name || session.user.username;
  const u = session.users.get(id);
  return u ? u.display_name || u.username : id;
}
export const teamName = (id) => (id ? session.teams.get(id)?.name ?? id : '—');

/** Categories the teams handle, for the category filter and the classify form. */
export function categories() {
  const all = new Set();
  for (const team of session.teams.values()) for (const c of team.categories ?? []) all.add(c);
  return [...all].sort();
}
