//! `/admin/audit`: the audit trail, newest first. The view lives in the URL (a GET form:
//! kind or group, person, dates), pages are links ("Older"), and the download takes the
//! same view. No island: the server renders all of it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::ConsolePage;
use crate::api::admin::audit::{audit_events, AuditQuery, AuditTrailPage};
use crate::api::admin::step_up::console_me;

fn query_from_url() -> AuditQuery {
    let map = use_query_map().read_untracked().clone();
    let get = |k: &str| map.get(k).filter(|v| !v.is_empty());
    AuditQuery {
        group: get("group"),
        kind: get("kind"),
        user: get("user"),
        from: get("from"),
        to: get("to"),
        before: get("before"),
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = query_from_url();
    let me = Resource::new_blocking(|| (), |_| console_me());
    let events = Resource::new_blocking(
        {
            let query = query.clone();
            move || query.clone()
        },
        audit_events,
    );
    view! {
        <Title text="Audit trail"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || {
                let query = query.clone();
                let (me, events) = (me.get()?, events.get()?);
                Some(view! {
                    <ConsolePage title="Audit trail" me=me.ok()>
                        <h1>"Audit trail"</h1>
                        {match events {
                            Ok(page) => view! { <Trail page query/> }.into_any(),
                            Err(e) => view! {
                                <p class="notice notice-error" role="alert">{e.to_string()}</p>
                                <p><a href="/admin/audit">"Show everything"</a></p>
                            }.into_any(),
                        }}
                    </ConsolePage>
                })
            }}
        </Suspense>
    }
}

#[component]
fn Trail(page: AuditTrailPage, query: AuditQuery) -> impl IntoView {
    let kept = page.oldest.clone().map_or_else(
        || "The trail is empty.".to_string(),
        |o| format!("Records are kept: the trail goes back to {o}. Each record is sealed into a chain that shows whether any was changed, removed or reordered."),
    );
    let selected_kind = query.kind.clone().unwrap_or_default();
    let selected_group = query.group.clone().unwrap_or_default();
    let csv = format!("/admin/audit.csv?{}", query.to_query_string(None));
    let older = page.next_before.map(|b| {
        let href = format!("/admin/audit?{}", query.to_query_string(Some(b)));
        view! { <a class="button" href=href rel="next" id="older">"Older 50 →"</a> }
    });
    let newest = query.before.is_some().then(|| {
        let href = format!("/admin/audit?{}", query.to_query_string(None));
        view! { <a class="button" href=href>"← Newest"</a> }
    });
    let empty = page.entries.is_empty();
    view! {
        <p class="hint" id="audit-retention">{kept}</p>
        <form class="filters" method="get" action="/admin/audit" role="search" aria-label="Filter the audit trail">
            <div class="field">
                <label for="audit-kind">"What"</label>
                <select id="audit-kind" name="kind">
                    <option value="" selected=selected_kind.is_empty()>"Every kind"</option>
                    {page.groups.iter().map(|(group, kinds)| view! {
                        <optgroup label=group.clone()>
                            {kinds.iter().map(|(code, label)| view! {
                                <option value=code.clone() selected=*code == selected_kind>{label.clone()}</option>
                            }).collect_view()}
                        </optgroup>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="audit-group">"Or a whole group"</label>
                <select id="audit-group" name="group">
                    <option value="" selected=selected_group.is_empty()>"Any group"</option>
                    {page.groups.iter().map(|(group, _)| view! {
                        <option value=group.clone() selected=*group == selected_group>{group.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="audit-user">"Person (email)"</label>
                <input id="audit-user" name="user" type="search" maxlength="254"
                    value=query.user.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="audit-from">"From"</label>
                <input id="audit-from" name="from" type="date" value=query.from.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="audit-to">"To"</label>
                <input id="audit-to" name="to" type="date" value=query.to.clone().unwrap_or_default()/>
            </div>
            <div class="actions">
                <button type="submit" class="button">"Show"</button>
                <a href="/admin/audit">"Clear"</a>
            </div>
        </form>
        <div class="table-wrap">
            <table class="events" id="audit-table">
                <caption class="visually-hidden">"Audit events, newest first"</caption>
                <thead><tr>
                    <th scope="col">"When (UTC)"</th><th scope="col">"What"</th><th scope="col">"Who"</th>
                    <th scope="col">"About"</th><th scope="col">"From"</th><th scope="col">"Detail"</th>
                </tr></thead>
                <tbody>
                    {page.entries.into_iter().map(|e| view! {
                        <tr>
                            <td>{e.at}</td>
                            <td>{e.what}</td>
                            <td>{e.who.unwrap_or_default()}</td>
                            <td>{e.subject.unwrap_or_default()}</td>
                            <td>{e.address.unwrap_or_default()}</td>
                            <td>{e.detail}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {empty.then(|| view! { <p id="audit-empty">"No events in this view."</p> })}
        <nav class="pager" aria-label="Pages">
            {newest}
            {older}
            <a class="download" href=csv download="">"Download CSV (this view)"</a>
        </nav>
    }
}
