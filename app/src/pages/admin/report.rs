//! `/admin/report`: the compliance report for a period — coverage now (by method, by
//! role), who has not set up, grace and exceptions, the policy's history, reminders,
//! resets, lockouts, and the coverage over the period as a chart drawn here, on the
//! server, as SVG (no chart library in the browser). It prints cleanly (the print
//! stylesheet drops the navigation, puts each section on its own page and the
//! organisation's name and the date on every page), and downloads as CSV and JSON.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{role_label, ConsolePage};
use crate::api::admin::report::{compliance_report, EventLine, ReportPage, ReportQuery};
use crate::api::admin::step_up::console_me;

#[component]
pub fn ReportPage() -> impl IntoView {
    let map = use_query_map().read_untracked().clone();
    let query = ReportQuery {
        from: map.get("from").filter(|v| !v.is_empty()),
        to: map.get("to").filter(|v| !v.is_empty()),
    };
    let me = Resource::new_blocking(|| (), |_| console_me());
    let report = Resource::new_blocking(
        {
            let query = query.clone();
            move || query.clone()
        },
        compliance_report,
    );
    view! {
        <Title text="Compliance report"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || {
                let query = query.clone();
                let (me, report) = (me.get()?, report.get()?);
                Some(view! {
                    <ConsolePage title="Report" me=me.ok()>
                        {match report {
                            Ok(r) => view! { <Report r query/> }.into_any(),
                            Err(e) => view! {
                                <h1>"Compliance report"</h1>
                                <p class="notice notice-error" role="alert">{e.to_string()}</p>
                                <p><a href="/admin/report">"The last 30 days"</a></p>
                            }.into_any(),
                        }}
                    </ConsolePage>
                })
            }}
        </Suspense>
    }
}

fn events_table(id: &'static str, caption: &'static str, events: Vec<EventLine>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p id=id>"None in this period."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="events" id=id>
                <caption class="visually-hidden">{caption}</caption>
                <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Who"</th><th scope="col">"About"</th><th scope="col">"What"</th></tr></thead>
                <tbody>
                    {events.into_iter().map(|e| view! {
                        <tr><td>{e.at}</td><td>{e.who}</td><td>{e.about}</td><td>{e.detail}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Report(r: ReportPage, query: ReportQuery) -> impl IntoView {
    let downloads = query.to_query_string();
    let period = format!("{} to {}", r.from, r.to);
    let more_not_set_up = r.not_set_up_count - r.not_set_up.len() as i64;
    view! {
        <div class="print-header" aria-hidden="true">
            {format!("{} · Two-step authentication report · {}", r.organisation, r.generated)}
        </div>
        <div class="page-head">
            <h1>"Compliance report"</h1>
            <div class="actions no-print">
                <a class="button" href=format!("/admin/report.csv?{downloads}") download="">"Download CSV"</a>
                <a class="button" href=format!("/admin/report.json?{downloads}") download="">"Download JSON"</a>
            </div>
        </div>
        <form class="filters no-print" method="get" action="/admin/report" aria-label="Report period">
            <div class="field">
                <label for="report-from">"From"</label>
                <input id="report-from" name="from" type="date" value=r.from.clone()/>
            </div>
            <div class="field">
                <label for="report-to">"To"</label>
                <input id="report-to" name="to" type="date" value=r.to.clone()/>
            </div>
            <div class="actions"><button type="submit" class="button">"Show"</button></div>
        </form>
        <section class="report-section" aria-labelledby="now-heading">
            <h2 id="now-heading">{format!("{} — as of {}", r.organisation, r.generated)}</h2>
            <p>{r.policy.clone()}</p>
            <dl class="facts" id="report-now">
                <dt>"People who can sign in"</dt><dd id="report-in-scope">{r.in_scope}</dd>
                <dt>"With two-step authentication"</dt>
                <dd id="report-coverage">{format!("{} ({}%)", r.with_two_step, r.percent)}</dd>
                {r.by_method.iter().map(|(label, n)| view! { <dt>{label.clone()}</dt><dd>{*n}</dd> }).collect_view()}
                <dt>"Not set up as the policy counts it (no method that counts)"</dt><dd id="report-not-set-up">{r.not_set_up_count}</dd>
                <dt>"In a grace period"</dt><dd id="report-grace">{r.in_grace}</dd>
                <dt>"Under a temporary exception"</dt><dd>{r.exceptions.len()}</dd>
            </dl>
            <div class="table-wrap">
                <table class="events" id="report-roles">
                    <caption>"By role"</caption>
                    <thead><tr><th scope="col">"Role"</th><th scope="col">"People"</th><th scope="col">"With two-step"</th></tr></thead>
                    <tbody>
                        {r.by_role.iter().map(|(role, n, on)| view! {
                            <tr><td>{role_label(role)}</td><td>{*n}</td><td>{*on}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="report-section" aria-labelledby="chart-heading">
            <h2 id="chart-heading">{format!("Coverage, {period}")}</h2>
            <CoverageChart points=r.coverage.clone()/>
        </section>
        <section class="report-section" aria-labelledby="people-heading">
            <h2 id="people-heading">"Not set up"</h2>
            {if r.not_set_up.is_empty() {
                view! { <p id="report-nobody">"Everyone who can sign in has set it up."</p> }.into_any()
            } else {
                view! {
                    <ul class="names" id="report-names">
                        {r.not_set_up.iter().map(|p| view! {
                            <li>{format!("{} <{}>, {}", p.name, p.email, role_label(&p.role))}</li>
                        }).collect_view()}
                    </ul>
                    {(more_not_set_up > 0).then(|| view! { <p>{format!("… and {more_not_set_up} more: the downloads list the counts, the users list's filters find everyone.")}</p> })}
                }.into_any()
            }}
            <h3>"Temporary exceptions"</h3>
            {if r.exceptions.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                view! {
                    <ul class="names" id="report-exceptions">
                        {r.exceptions.iter().map(|(name, email, until, why)| view! {
                            <li>{format!("{name} <{email}> until {until}: {why}")}</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section class="report-section" aria-labelledby="history-heading">
            <h2 id="history-heading">{format!("The policy's history, {period}")}</h2>
            {events_table("report-history", "Policy changes in the period", r.policy_history.clone())}
            <h3>"Admin resets"</h3>
            {events_table("report-resets", "Two-step resets in the period", r.resets.clone())}
            <dl class="facts">
                <dt>"Reminders sent"</dt><dd id="report-reminders">{r.reminders_sent}</dd>
                <dt>"Lockouts"</dt><dd id="report-lockouts">{r.lockouts}</dd>
            </dl>
        </section>
        <section class="report-section" aria-labelledby="seal-heading">
            <h2 id="seal-heading">"Audit trail"</h2>
            <p>
                {format!("The trail's newest record when this report was made is number {}, sealed as ", r.audit_seq)}
                <code class="key" id="report-head">{r.audit_head.clone()}</code>
                ". Keep this report: "<code>{format!("tessera audit verify --expect {}", r.audit_head)}</code>
                " shows whether any record up to it was changed, removed or cut off since."
            </p>
        </section>
    }
}

/// The share of people with two-step authentication per day, drawn as SVG on the server,
/// with the same numbers as a table for screen readers.
#[component]
fn CoverageChart(points: Vec<(String, f64)>) -> impl IntoView {
    const W: f64 = 640.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 28.0;
    const TOP: f64 = 10.0;
    let plot_w = W - LEFT - 10.0;
    let plot_h = H - BOTTOM - TOP;
    let n = points.len().max(1);
    let x = move |i: usize| {
        if n == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = move |pct: f64| TOP + plot_h * (1.0 - pct.clamp(0.0, 100.0) / 100.0);
    let line = points
        .iter()
        .enumerate()
        .map(|(i, (_, p))| format!("{:.1},{:.1}", x(i), y(*p)))
        .collect::<Vec<_>>()
        .join(" ");
    let summary = match (points.first(), points.last()) {
        (Some(a), Some(b)) => format!(
            "Share of people with two-step authentication: {}% on {}, {}% on {}.",
            a.1, a.0, b.1, b.0
        ),
        _ => "No counts for this period yet.".into(),
    };
    let first = points.first().map(|p| p.0.clone()).unwrap_or_default();
    let last = points.last().map(|p| p.0.clone()).unwrap_or_default();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") width="100%" role="img" aria-labelledby="chart-title chart-desc" id="coverage-chart">
                <title id="chart-title">"Coverage over the period"</title>
                <desc id="chart-desc">{summary.clone()}</desc>
                {[0.0, 25.0, 50.0, 75.0, 100.0].into_iter().map(|pct| view! {
                    <line class="grid" x1=LEFT x2=W - 10.0 y1=y(pct) y2=y(pct)/>
                    <text class="axis" x=LEFT - 6.0 y=y(pct) + 4.0 text-anchor="end">{format!("{pct}%")}</text>
                }).collect_view()}
                <text class="axis" x=LEFT y=H - 8.0>{first}</text>
                <text class="axis" x=W - 10.0 y=H - 8.0 text-anchor="end">{last}</text>
                <polyline class="coverage-line" points=line fill="none"/>
                {points.iter().enumerate().map(|(i, (_, p))| view! {
                    <circle class="coverage-dot" cx=x(i) cy=y(*p) r="3"/>
                }).collect_view()}
            </svg>
            <figcaption>{summary}</figcaption>
        </figure>
        <details class="no-print">
            <summary>"The numbers"</summary>
            <table class="events" id="coverage-table">
                <caption class="visually-hidden">"Share with two-step authentication per day"</caption>
                <thead><tr><th scope="col">"Day"</th><th scope="col">"With two-step"</th></tr></thead>
                <tbody>
                    {points.into_iter().map(|(day, pct)| view! { <tr><td>{day}</td><td>{format!("{pct}%")}</td></tr> }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}
