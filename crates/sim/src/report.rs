//! What a run amounts to: a summary with the figures admins decide on, a cost estimate,
//! and a self-contained HTML report (inline SVG charts, no scripts).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::metrics::{Metrics, SEED_LAMBDA_GB};
use crate::run::{Outcome, Policy};
use crate::scenario::Scenario;

/// Prices used for estimates (us-east-1). Lambda and alarm prices are the design brief's;
/// DynamoDB on-demand and SNS prices are AWS's published list prices at the time of
/// writing. WorkSpaces API calls, AWS-service events on EventBridge and the first copy
/// of CloudTrail management events cost nothing.
pub mod prices {
    /// Lambda x86, per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_016_666_7;
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// A standard CloudWatch alarm, per month.
    pub const ALARM_MONTH: f64 = 0.10;
    /// DynamoDB on-demand, per write request unit.
    pub const DYNAMO_WRITE: f64 = 0.625 / 1e6;
    /// DynamoDB on-demand, per read request unit.
    pub const DYNAMO_READ: f64 = 0.125 / 1e6;
    /// SNS, per publish.
    pub const SNS_PUBLISH: f64 = 0.50 / 1e6;
}

/// Estimated dollars a month per 1,000 managed desktops, by service.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cost {
    /// CloudWatch alarms (one per managed desktop in alarm mode).
    pub alarms: f64,
    /// Lambda GB-seconds and requests.
    pub lambda: f64,
    /// The journal table.
    pub dynamodb: f64,
    /// SNS publishes (alarm notifications, admin notices).
    pub sns: f64,
    /// CloudTrail: management events' first copy is free.
    pub cloudtrail: f64,
    /// The sum.
    pub total: f64,
}

/// The figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The policy.
    pub policy: Policy,
    /// The seed.
    pub seed: u64,
    /// Managed desktops.
    pub managed: usize,
    /// Simulated hours.
    pub hours: f64,
    /// Sessions started.
    pub sessions: u64,
    /// Share of sessions owed a fresh desktop that got one (percent).
    pub fresh_share: f64,
    /// Share of users who had left by the end with a fresh desktop ready or on its way (percent).
    pub fresh_ready_share: f64,
    /// Rebuilds completed.
    pub rebuilds: u64,
    /// Control-plane overhead p50 / p99 (seconds).
    pub overhead_p50: Option<f64>,
    /// See `overhead_p50`.
    pub overhead_p99: Option<f64>,
    /// Disconnect to fresh desktop p50 / p99 (seconds).
    pub time_to_fresh_p50: Option<f64>,
    /// See `time_to_fresh_p50`.
    pub time_to_fresh_p99: Option<f64>,
    /// Real disconnect to the start of the grace period, p50 / p99 (seconds).
    pub detection_lag_p50: Option<f64>,
    /// See `detection_lag_p50`.
    pub detection_lag_p99: Option<f64>,
    /// Terminate + create calls per rebuild.
    pub calls_per_rebuild: Option<f64>,
    /// Lambda GB-seconds per rebuild (a model, see `run::estimated_seconds`).
    pub gb_seconds_per_rebuild: Option<f64>,
    /// Lambda GB-seconds in total.
    pub gb_seconds: f64,
    /// Sessions whose user waited for a desktop, and the mean wait (seconds).
    pub waits: u64,
    /// Mean wait of those (seconds).
    pub mean_wait: f64,
    /// WorkSpaces calls refused with ThrottlingException.
    pub throttled: u64,
    /// Most function instances at once.
    pub peak_concurrency: usize,
    /// Desktops terminated and never re-created.
    pub lost_desktops: u64,
    /// Rebuilds still under way when the run ended (started within the settle period).
    pub unfinished_at_end: u64,
    /// Computer objects left in the directory whose WorkSpace is gone.
    pub stale_computer_objects: u64,
    /// Broken invariants.
    pub violations: usize,
    /// Estimated $/month per 1,000 managed desktops.
    pub cost: Cost,
}

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

/// The figures of `outcome`, a run of `scenario`.
pub fn summarize(scenario: &Scenario, outcome: &Outcome) -> Summary {
    let m = &outcome.metrics;
    let managed = scenario.desks.iter().filter(|d| scenario.config.selector.matches(&d.spec)).count();
    let hours = (scenario.duration + scenario.settle).as_secs_f64() / 3600.0;
    Summary {
        policy: outcome.policy,
        seed: outcome.seed,
        managed,
        hours,
        sessions: m.sessions,
        fresh_share: m.fresh_share(),
        fresh_ready_share: m.fresh_ready_share(),
        rebuilds: m.rebuilds,
        overhead_p50: secs(m.overhead_percentile(50.0)),
        overhead_p99: secs(m.overhead_percentile(99.0)),
        time_to_fresh_p50: secs(m.time_to_fresh_percentile(50.0)),
        time_to_fresh_p99: secs(m.time_to_fresh_percentile(99.0)),
        detection_lag_p50: secs(crate::metrics::percentile(&m.detection_lag, 50.0)),
        detection_lag_p99: secs(crate::metrics::percentile(&m.detection_lag, 99.0)),
        calls_per_rebuild: m.calls_per_rebuild(),
        gb_seconds_per_rebuild: m.gb_seconds_per_rebuild(),
        gb_seconds: m.lambda_gb_seconds,
        waits: m.waits,
        mean_wait: if m.waits == 0 { 0.0 } else { m.wait_total.as_secs_f64() / m.waits as f64 },
        throttled: m.throttled.values().sum(),
        peak_concurrency: m.peak_concurrency,
        lost_desktops: m.lost_desktops,
        unfinished_at_end: m.unfinished_at_end,
        stale_computer_objects: m.stale_computer_objects,
        violations: outcome.violations.len(),
        cost: cost(scenario, outcome.policy, m, managed, hours),
    }
}

/// $/month per 1,000 managed desktops: the run's usage scaled to 30 days and 1,000 desks.
fn cost(scenario: &Scenario, policy: Policy, m: &Metrics, managed: usize, hours: f64) -> Cost {
    if managed == 0 || hours <= 0.0 {
        return Cost::default();
    }
    let scale = (30.0 * 24.0 / hours) * (1000.0 / managed as f64);
    let alarmed =
        policy == Policy::Seed || scenario.config.alarm_mode == blankslate_core::config::AlarmMode::PerWorkspace;
    let alarms = if alarmed { 1000.0 * prices::ALARM_MONTH } else { 0.0 };
    let requests: u64 = m.invocations.values().sum();
    let lambda = scale * (m.lambda_gb_seconds * prices::LAMBDA_GB_SECOND + requests as f64 * prices::LAMBDA_REQUEST);
    // A journal record is about 1 KB: a write is one WRU; a scan page (1 MB) about 128
    // RRU (eventually consistent), a get or query one.
    let writes = m.calls("Journal.PutItem") as f64;
    let reads = 128.0 * m.calls("Journal.Scan") as f64 + (m.calls("Journal.GetItem") + m.calls("Journal.Query")) as f64;
    let dynamodb = scale * (writes * prices::DYNAMO_WRITE + reads * prices::DYNAMO_READ);
    let alarm_notices = m.invocations.get("Workspace_Term_Rebuild").copied().unwrap_or(0);
    let sns = scale * (alarm_notices + m.calls("SNS.Publish")) as f64 * prices::SNS_PUBLISH;
    let total = alarms + lambda + dynamodb + sns;
    let _ = SEED_LAMBDA_GB;
    Cost { alarms, lambda, dynamodb, sns, cloudtrail: 0.0, total }
}

fn fmt_secs(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) if s < 7200.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// The terminal summary: one column per run.
pub fn table(summaries: &[Summary]) -> String {
    let mut rows: Vec<(&str, Vec<String>)> = vec![
        ("policy", summaries.iter().map(|s| format!("{:?}", s.policy).to_lowercase()).collect()),
        ("managed desktops", summaries.iter().map(|s| s.managed.to_string()).collect()),
        ("sessions", summaries.iter().map(|s| s.sessions.to_string()).collect()),
        ("fresh desktop at next session", summaries.iter().map(|s| format!("{:.1}%", s.fresh_share)).collect()),
        ("left users with fresh desktop", summaries.iter().map(|s| format!("{:.1}%", s.fresh_ready_share)).collect()),
        ("rebuilds", summaries.iter().map(|s| s.rebuilds.to_string()).collect()),
        ("overhead p50", summaries.iter().map(|s| fmt_secs(s.overhead_p50)).collect()),
        ("overhead p99", summaries.iter().map(|s| fmt_secs(s.overhead_p99)).collect()),
        ("detection lag p50", summaries.iter().map(|s| fmt_secs(s.detection_lag_p50)).collect()),
        ("detection lag p99", summaries.iter().map(|s| fmt_secs(s.detection_lag_p99)).collect()),
        ("disconnect to fresh p50", summaries.iter().map(|s| fmt_secs(s.time_to_fresh_p50)).collect()),
        ("disconnect to fresh p99", summaries.iter().map(|s| fmt_secs(s.time_to_fresh_p99)).collect()),
        ("terminate+create calls/rebuild", summaries.iter().map(|s| fmt_opt(s.calls_per_rebuild, 3)).collect()),
        ("Lambda GB-s/rebuild (model)", summaries.iter().map(|s| fmt_opt(s.gb_seconds_per_rebuild, 4)).collect()),
        (
            "users who waited",
            summaries.iter().map(|s| format!("{} (mean {})", s.waits, fmt_secs(Some(s.mean_wait)))).collect(),
        ),
        ("throttled calls", summaries.iter().map(|s| s.throttled.to_string()).collect()),
        ("peak Lambda concurrency", summaries.iter().map(|s| s.peak_concurrency.to_string()).collect()),
        ("lost desktops", summaries.iter().map(|s| s.lost_desktops.to_string()).collect()),
        ("rebuilds still running at end", summaries.iter().map(|s| s.unfinished_at_end.to_string()).collect()),
        ("stale computer objects at the end", summaries.iter().map(|s| s.stale_computer_objects.to_string()).collect()),
        ("invariant violations", summaries.iter().map(|s| s.violations.to_string()).collect()),
        ("$/month per 1,000 (est.)", summaries.iter().map(|s| format!("{:.2}", s.cost.total)).collect()),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, values) in rows.drain(..) {
        let _ = write!(out, "{key:<width$}");
        for v in values {
            let _ = write!(out, "  {v:>20}");
        }
        out.push('\n');
    }
    out
}

const COLOURS: [&str; 8] = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A line chart of several series over the same x (minutes from the start).
fn line_chart(title: &str, x_step_minutes: f64, series: &[(&str, Vec<f64>)]) -> String {
    let (w, h, pad) = (720.0, 240.0, 40.0);
    let n = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(2);
    let ymax = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0f64, f64::max).max(1.0);
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">",
        esc(title)
    );
    let _ =
        write!(svg, "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>", h - pad, w - 10.0, h - pad);
    let _ = write!(svg, "<line x1=\"{pad}\" y1=\"10\" x2=\"{pad}\" y2=\"{}\" stroke=\"#999\"/>", h - pad);
    let _ = write!(svg, "<text x=\"2\" y=\"16\" font-size=\"11\">{ymax:.0}</text>");
    let hours = (n as f64 - 1.0) * x_step_minutes / 60.0;
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{hours:.1} h</text>",
        w - 10.0,
        h - pad + 14.0
    );
    for (k, (name, values)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let x = pad + (w - pad - 10.0) * i as f64 / (n as f64 - 1.0);
                let y = (h - pad) - (h - pad - 10.0) * v / ymax;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
            points.join(" ")
        );
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            pad + 10.0 + 130.0 * (k % 5) as f64,
            h - 22.0 + 12.0 * (k / 5) as f64 - 9.0,
            pad + 24.0 + 130.0 * (k % 5) as f64,
            h - 22.0 + 12.0 * (k / 5) as f64,
            esc(name)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// A histogram of durations (minutes), one bar group per run.
fn histogram(title: &str, runs: &[(&str, &[Duration])]) -> String {
    let (w, h, pad) = (720.0, 240.0, 40.0);
    let max_min = runs.iter().flat_map(|(_, v)| v.iter()).map(|d| d.as_secs_f64() / 60.0).fold(1.0f64, f64::max);
    let bins = 40usize;
    let width = (max_min / bins as f64).ceil().max(1.0);
    let counts: Vec<Vec<usize>> = runs
        .iter()
        .map(|(_, v)| {
            let mut c = vec![0usize; bins + 1];
            for d in v.iter() {
                c[((d.as_secs_f64() / 60.0 / width) as usize).min(bins)] += 1;
            }
            c
        })
        .collect();
    let ymax = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">",
        esc(title)
    );
    let _ =
        write!(svg, "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>", h - pad, w - 10.0, h - pad);
    let _ = write!(svg, "<text x=\"2\" y=\"16\" font-size=\"11\">{ymax:.0}</text>");
    let bar = (w - pad - 10.0) / (bins as f64 + 1.0);
    for (k, (name, _)) in runs.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let sub = bar / runs.len().max(1) as f64;
        for (i, &c) in counts[k].iter().enumerate() {
            let bh = (h - pad - 10.0) * c as f64 / ymax;
            let x = pad + bar * i as f64 + sub * k as f64;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{sub:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"/>",
                h - pad - bh
            );
        }
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            pad + 10.0 + 160.0 * k as f64,
            h - 31.0 + 12.0,
            pad + 24.0 + 160.0 * k as f64,
            h - 22.0 + 12.0,
            esc(name)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{:.0} min</text>",
        w - 10.0,
        h - pad + 14.0,
        width * bins as f64
    );
    svg.push_str("</svg></figure>");
    svg
}

/// The HTML report of one or more runs of one scenario (both policies side by side when
/// compared). Self-contained: inline CSS and SVG, the metrics as JSON at the end.
pub fn html(scenario: &Scenario, command: &str, runs: &[(&Outcome, &Summary)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>blankslate simulate: {}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:1500px;margin:1em auto;padding:0 1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}\
         th:first-child,td:first-child{{text-align:left}}.runs{{display:flex;flex-wrap:wrap;gap:1em}}\
         figure{{margin:0.5em 0}}figcaption{{font-weight:600}}pre{{background:#f6f6f6;padding:0.5em;overflow:auto;max-height:20em}}</style></head><body>",
        esc(&scenario.name)
    );
    let _ = write!(
        out,
        "<h1>blankslate simulate: {}</h1><p>{} desks, {:.0} simulated hours, selector <code>{}</code>, alarm mode {:?}, \
         WorkSpaces API limit {}. Reproduce with <code>{}</code>.</p>",
        esc(&scenario.name),
        scenario.desks.len(),
        (scenario.duration + scenario.settle).as_secs_f64() / 3600.0,
        esc(&scenario.config.selector.to_string()),
        scenario.config.alarm_mode,
        esc(&scenario.api.to_string()),
        esc(command)
    );
    let summaries: Vec<Summary> = runs.iter().map(|(_, s)| (*s).clone()).collect();
    let _ = write!(out, "<h2>Summary</h2><pre>{}</pre>", esc(&table(&summaries)));
    out.push_str("<div class=\"runs\">");
    for (outcome, _) in runs {
        let m = &outcome.metrics;
        let _ = write!(out, "<section><h2>{:?}</h2>", outcome.policy);
        let step = f64::from(m.series.sample_minutes.max(1));
        let states: Vec<(&str, Vec<f64>)> =
            m.series.states.iter().map(|(k, v)| (*k, v.iter().map(|&x| f64::from(x)).collect())).collect();
        out.push_str(&line_chart("Managed desktops by state (and users waiting)", step, &states));
        let calls: Vec<(&str, Vec<f64>)> = m
            .series
            .calls_per_minute
            .iter()
            .filter(|(op, _)| !op.starts_with("Journal") && !op.starts_with("SNS"))
            .map(|(k, v)| (*k, v.iter().map(|&x| f64::from(x)).collect()))
            .collect();
        out.push_str(&line_chart("API calls per minute by operation", 1.0, &calls));
        let conc: Vec<f64> = m.series.concurrency_per_minute.iter().map(|&x| f64::from(x)).collect();
        out.push_str(&line_chart("Lambda concurrency (most at once, per minute)", 1.0, &[("instances", conc)]));
        out.push_str("</section>");
    }
    out.push_str("</div>");
    let dists: Vec<(String, &[Duration])> =
        runs.iter().map(|(o, _)| (format!("{:?}", o.policy), o.metrics.time_to_fresh.as_slice())).collect();
    let dists: Vec<(&str, &[Duration])> = dists.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    out.push_str(&histogram("Time from disconnect to fresh desktop (rebuilds per bin)", &dists));
    if runs.iter().any(|(o, _)| !o.violations.is_empty()) {
        out.push_str("<h2>Violations</h2><ul>");
        for (o, _) in runs {
            for v in o.violations.iter().take(200) {
                let _ = write!(out, "<li>{:?} {} {}: {}</li>", o.policy, v.at, v.invariant, esc(&v.detail));
            }
        }
        out.push_str("</ul>");
    }
    let json = serde_json::to_string(&summaries).unwrap_or_default();
    let _ = writeln!(
        out,
        "<h2>Metrics (JSON)</h2><pre id=\"metrics\">{}</pre></body></html>",
        json.replace('&', "&amp;").replace('<', "&lt;")
    );
    out
}
