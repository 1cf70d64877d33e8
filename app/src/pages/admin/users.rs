//! `/admin/users`: everyone's two-step status at a glance. The counts at the top are also
//! the filters; the view lives in the URL (bookmarkable; back and reload keep it), and the
//! server renders the rows from it. Filtering, searching and paging are plain links and a
//! GET form; only selecting rows for a reminder is an island.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::step_up::StepUpForm;
use super::{role_label, ConsolePage, TwoStepBadge};
use crate::api::admin::step_up::{console_me, ConsoleUser};
use crate::api::admin::user::{remind_users, remind_view, RemindResult};
use crate::api::admin::users::{count_users, list_users, UserCounts, UserListRow, UsersQuery};
use crate::error::AppError;
use crate::pages::ErrorNotice;

/// The view the URL asks for.
fn query_from_url() -> UsersQuery {
    let map = use_query_map().read_untracked().clone();
    let get = |k: &str| map.get(k).filter(|v| !v.is_empty());
    UsersQuery {
        two_step: get("two_step"),
        role: get("role"),
        status: get("status"),
        q: get("q"),
        sort: get("sort"),
        cursor: get("cursor"),
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = query_from_url();
    let me = Resource::new_blocking(|| (), |_| console_me());
    let counts = Resource::new_blocking(|| (), |_| count_users());
    let list = Resource::new_blocking(
        {
            let query = query.clone();
            move || query.clone()
        },
        list_users,
    );
    view! {
        <Title text="Users"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || {
                let query = query.clone();
                let (me, counts, list) = (me.get()?, counts.get()?, list.get()?);
                let me = me.ok();
                Some(view! {
                        <ConsolePage title="Users" me=me.clone()>
                            <div class="page-head">
                                <h1>"Users"</h1>
                                {me.as_ref().is_some_and(|m| m.role == "admin").then(|| view! {
                                    <div class="actions">
                                        <a class="button primary" href="/admin/users/new" id="add-user">"Add user"</a>
                                        <a class="button" href="/admin/users/import">"Import CSV"</a>
                                    </div>
                                })}
                            </div>
                            {match counts {
                                Ok(counts) => view! { <Counts counts query=query.clone()/> }.into_any(),
                                Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                            }}
                            <Filters query=query.clone()/>
                            {match (list, me) {
                                (Ok(page), Some(me)) => {
                                    let can_remind = (me.role == "admin" || me.role == "helpdesk")
                                        && me.two_factor_enabled;
                                    let previous = page.previous.clone();
                                    let next = page.next.clone();
                                    view! {
                                        <UsersTable rows=page.rows query=query.clone() me can_remind/>
                                        <Pager query=query.clone() previous next/>
                                    }.into_any()
                                }
                                (Err(e), _) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                                (_, None) => view! { <p class="notice notice-error" role="alert">"Please sign in again."</p> }.into_any(),
                            }}
                        </ConsolePage>
                })
            }}
        </Suspense>
    }
}

/// The counts, each a link to the list filtered by it.
#[component]
fn Counts(counts: UserCounts, query: UsersQuery) -> impl IntoView {
    let cards: [(&str, i64, UsersQuery); 7] = [
        ("All", counts.all, UsersQuery::default()),
        (
            "Two-step on",
            counts.two_step_on,
            UsersQuery {
                two_step: Some("on".into()),
                ..Default::default()
            },
        ),
        (
            "Not set up",
            counts.not_set_up,
            UsersQuery {
                two_step: Some("not_set_up".into()),
                ..Default::default()
            },
        ),
        (
            "Pending invitation",
            counts.pending,
            UsersQuery {
                status: Some("pending".into()),
                ..Default::default()
            },
        ),
        (
            "Disabled",
            counts.disabled,
            UsersQuery {
                status: Some("disabled".into()),
                ..Default::default()
            },
        ),
        (
            "Locked out now",
            counts.locked,
            UsersQuery {
                status: Some("locked".into()),
                ..Default::default()
            },
        ),
        (
            "Inactive 30 days",
            counts.inactive,
            UsersQuery {
                status: Some("inactive".into()),
                ..Default::default()
            },
        ),
    ];
    let current = UsersQuery {
        sort: None,
        cursor: None,
        ..query.clone()
    };
    view! {
        <ul class="counts" aria-label="Counts (each filters the list)">
            {cards.into_iter().map(|(label, n, filter)| {
                let active = filter == current;
                let href = format!("/admin/users?{}", UsersQuery { sort: query.sort.clone(), ..filter }.to_query_string(None));
                view! {
                    <li>
                        <a class="count" href=href aria-current=active.then_some("true")>
                            <span class="count-n">{n}</span>
                            <span class="count-label">{label}</span>
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
        {(counts.mail_waiting > 0).then(|| view! {
            <p class="hint" role="status">
                {format!("{} email(s) waiting in the outbox; they go out at the rate the server allows.", counts.mail_waiting)}
            </p>
        })}
    }
}

/// Filter, search and sort: a plain GET form, so the view lands in the URL.
#[component]
fn Filters(query: UsersQuery) -> impl IntoView {
    let option = |value: &'static str, label: &'static str, current: &Option<String>| {
        let selected = current.as_deref().unwrap_or("") == value;
        view! { <option value=value selected=selected>{label}</option> }
    };
    view! {
        <form class="filters" method="get" action="/admin/users" role="search" aria-label="Filter users">
            <div class="field">
                <label for="q">"Name or email starts with"</label>
                <input id="q" name="q" type="search" value=query.q.clone().unwrap_or_default() maxlength="100"/>
            </div>
            <div class="field">
                <label for="two_step">"Two-step"</label>
                <select id="two_step" name="two_step">
                    {option("", "Any", &query.two_step)}
                    {option("on", "On", &query.two_step)}
                    {option("not_set_up", "Not set up", &query.two_step)}
                    {option("grace", "In grace period", &query.two_step)}
                    {option("exception", "Temporary exception", &query.two_step)}
                </select>
            </div>
            <div class="field">
                <label for="role">"Role"</label>
                <select id="role" name="role">
                    {option("", "Any", &query.role)}
                    {option("admin", "Administrator", &query.role)}
                    {option("helpdesk", "Helpdesk", &query.role)}
                    {option("auditor", "Auditor", &query.role)}
                    {option("staff", "Staff", &query.role)}
                </select>
            </div>
            <div class="field">
                <label for="status">"Account"</label>
                <select id="status" name="status">
                    {option("", "Any", &query.status)}
                    {option("active", "Active", &query.status)}
                    {option("pending", "Pending invitation", &query.status)}
                    {option("disabled", "Disabled", &query.status)}
                    {option("locked", "Locked out now", &query.status)}
                    {option("inactive", "Inactive 30 days", &query.status)}
                </select>
            </div>
            <div class="field">
                <label for="sort">"Sort by"</label>
                <select id="sort" name="sort">
                    {option("name", "Name", &query.sort)}
                    {option("last_sign_in", "Last sign-in", &query.sort)}
                    {option("created", "Newest", &query.sort)}
                </select>
            </div>
            <div class="actions">
                <button type="submit" class="button">"Show"</button>
                <a href="/admin/users">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
fn Pager(query: UsersQuery, previous: Option<String>, next: Option<String>) -> impl IntoView {
    let csv = format!(
        "/admin/users.csv?{}",
        query.first_page().to_query_string(None)
    );
    let link = move |cursor: Option<String>, label: &'static str, rel: &'static str| {
        cursor.map(|c| {
            let href = format!(
                "/admin/users?{}",
                query.first_page().to_query_string(Some(&c))
            );
            view! { <a class="button" href=href rel=rel>{label}</a> }
        })
    };
    view! {
        <nav class="pager" aria-label="Pages">
            {link(previous, "← Previous 50", "prev")}
            {link(next, "Next 50 →", "next")}
            <a class="download" href=csv download="">"Download CSV (everyone in this view)"</a>
        </nav>
    }
}

/// The table, and for admins and helpdesk members the row checkboxes and reminders.
#[island(lazy)]
fn UsersTable(
    rows: Vec<UserListRow>,
    query: UsersQuery,
    me: ConsoleUser,
    can_remind: bool,
) -> impl IntoView {
    let selected = RwSignal::new(Vec::<String>::new());
    let note = RwSignal::new(String::new());
    let stepped_up = RwSignal::new(me.stepped_up);
    let asking = RwSignal::new(None::<Reminder>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let done = RwSignal::new(None::<RemindResult>);
    let empty = rows.is_empty();
    let all_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();

    let send = Callback::new(move |which: Reminder| {
        if !stepped_up.get_untracked() {
            asking.set(Some(which));
            return;
        }
        busy.set(true);
        error.set(None);
        done.set(None);
        let note = Some(note.get_untracked()).filter(|n| !n.trim().is_empty());
        let ids = selected.get_untracked();
        let query = query.clone();
        spawn_local(async move {
            let result = match which {
                Reminder::Selected => remind_users(ids, note).await,
                Reminder::View => remind_view(query, note).await,
            };
            busy.set(false);
            match result {
                Ok(r) => {
                    selected.set(Vec::new());
                    done.set(Some(r));
                }
                Err(AppError::StepUpRequired) => {
                    stepped_up.set(false);
                    asking.set(Some(which));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    });

    view! {
        {empty.then(|| view! { <p id="no-users">"Nobody matches this view."</p> })}
        <div class="table-wrap">
            <table class="users" aria-describedby="users-caption">
                <caption id="users-caption" class="visually-hidden">"Users in this view, 50 at a time"</caption>
                <thead>
                    <tr>
                        {can_remind.then(|| {
                            let count = all_ids.len();
                            let all_ids = all_ids.clone();
                            view! {
                                <th scope="col">
                                    <input type="checkbox" id="select-all" aria-label="Select everyone on this page"
                                        prop:checked=move || { count > 0 && selected.with(|s| s.len() == count) }
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            selected.set(if on { all_ids.clone() } else { Vec::new() });
                                        }/>
                                </th>
                            }
                        })}
                        <th scope="col">"Name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Account"</th>
                        <th scope="col">"Two-step"</th>
                        <th scope="col">"Methods"</th>
                        <th scope="col">"Last sign-in"</th>
                        <th scope="col">"Last reminded"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let id = row.id.clone();
                        let checkbox_id = format!("select-{}", row.id);
                        let label = format!("Select {}", row.name);
                        view! {
                            <tr>
                                {can_remind.then(|| {
                                    let id = id.clone();
                                    let id_for_change = id.clone();
                                    view! {
                                        <td>
                                            <input type="checkbox" id=checkbox_id.clone() aria-label=label.clone()
                                                prop:checked=move || selected.with(|s| s.contains(&id))
                                                on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    selected.update(|s| {
                                                        s.retain(|x| *x != id_for_change);
                                                        if on { s.push(id_for_change.clone()); }
                                                    });
                                                }/>
                                        </td>
                                    }
                                })}
                                <td>
                                    <a href=format!("/admin/users/{}", row.id)>{row.name.clone()}</a>
                                    <br/><span class="hint">{row.email.clone()}</span>
                                </td>
                                <td>{role_label(&row.role)}</td>
                                <td>{account_word(&row)}</td>
                                <td><TwoStepBadge on=row.two_step_on/>
                                    {row.policy_note.clone().map(|n| view! { <br/><span class="badge info policy-note">{n}</span> })}</td>
                                <td>{methods_text(&row)}</td>
                                <td>{row.last_sign_in.clone().unwrap_or_else(|| "Never".into())}</td>
                                <td>{row.last_reminded.clone().unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {can_remind.then(|| view! {
            <section class="bulk" aria-labelledby="remind-heading">
                <h2 id="remind-heading">"Remind to set up two-step authentication"</h2>
                <p class="hint">"Each person gets at most one reminder a day; people who already have it on are skipped."</p>
                <div class="field">
                    <label for="remind-note">"A sentence of your own (optional)"</label>
                    <input id="remind-note" maxlength="500" bind:value=note/>
                </div>
                <ErrorNotice error=error.into()/>
                <div class="actions">
                    <button type="button" class="button primary" id="remind-selected"
                        disabled=move || busy.get() || selected.with(Vec::is_empty)
                        on:click=move |_| send.run(Reminder::Selected)>
                        {move || format!("Send reminder to {} selected", selected.with(Vec::len))}
                    </button>
                    <button type="button" class="button" id="remind-view" disabled=move || busy.get()
                        on:click=move |_| send.run(Reminder::View)>
                        "Remind everyone in this view"
                    </button>
                </div>
                <div role="status" aria-live="polite">
                    {move || done.get().map(|r| view! {
                        <p class="notice notice-ok" id="remind-result">
                            {format!("Sent {}, skipped {} reminded today{}. {} mail(s) waiting to go out.",
                                r.sent, r.skipped_recent,
                                if r.skipped_other > 0 { format!(", {} with nothing to set up or not yours to remind", r.skipped_other) } else { String::new() },
                                r.queued)}
                        </p>
                    })}
                </div>
                {move || asking.get().map(|which| {
                    view! {
                        <StepUpForm me=me.clone()
                            on_done=move |_| { stepped_up.set(true); asking.set(None); send.run(which); }
                            on_cancel=move |_| asking.set(None)/>
                    }
                })}
            </section>
        })}
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Reminder {
    Selected,
    View,
}

fn account_word(row: &UserListRow) -> String {
    match row.status.as_str() {
        "disabled" => "Disabled".into(),
        "pending" => "Pending invitation".into(),
        "locked" => format!(
            "Locked until {}",
            row.locked_until.clone().unwrap_or_default()
        ),
        _ => "Active".into(),
    }
}

fn methods_text(row: &UserListRow) -> String {
    let mut parts = Vec::new();
    if row.passkeys > 0 {
        parts.push(format!(
            "{} passkey{}",
            row.passkeys,
            if row.passkeys == 1 { "" } else { "s" }
        ));
    }
    if row.has_app {
        parts.push("app".into());
    }
    if row.two_step_on {
        parts.push(format!("{} of 10 codes", row.backup_codes_left));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(", ")
    }
}
