//! The report as one self-contained HTML page: the summary, the activity by hour and
//! region as an SVG chart with the suspicious window shaded, the blast radius, the
//! lineage, and every timeline event in a table with a search box.
//!
//! Nothing is fetched: styles, script and chart are inline, and a Content Security
//! Policy forbids any other source. Every log value is attacker-controlled (a user
//! agent is whatever the caller sent) and is HTML-escaped. The search box also reads
//! `#q=TEXT` from the address on load, so a link can open the page filtered.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{clean, or_dash};
use crate::report::Report;

/// Escapes text for HTML content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

fn e(s: Option<&str>) -> String {
    esc(or_dash(s))
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
code,.mono,td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;min-width:150px}
.card b{display:block;font-size:11px;text-transform:uppercase;color:#57606a;letter-spacing:.04em}
.card.alert{border-color:#cf222e;background:#fff5f5}
table{border-collapse:collapse;margin:6px 0;max-width:100%}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top;word-break:break-word}
th{background:#f6f8fa;font-size:12px;white-space:nowrap}
tr.new td:first-child{font-weight:bold} .tag{color:#cf222e;font-weight:bold}
tr.err td{color:#9a6700} tr.sus td:first-child{border-left:3px solid #cf222e}
#q{font-size:14px;padding:5px 8px;width:360px;margin:8px 0}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.note{color:#57606a;font-size:12px}
"#;

const SCRIPT: &str = r#"
(function(){
  var q=document.getElementById('q');
  var rows=document.querySelectorAll('#events tbody tr');
  var shown=document.getElementById('shown');
  function apply(){
    var v=q.value.trim().toLowerCase(), n=0;
    for(var i=0;i<rows.length;i++){
      var hit=!v||rows[i].textContent.toLowerCase().indexOf(v)>=0;
      rows[i].hidden=!hit; if(hit){n++;}
    }
    shown.textContent=String(n);
  }
  q.addEventListener('input',apply);
  var m=/[#&]q=([^&]*)/.exec(location.hash);
  if(m){try{q.value=decodeURIComponent(m[1].replace(/\+/g,' '));}catch(err){q.value=m[1];}}
  apply();
})();
"#;

const COLORS: [&str; 10] = [
    "#0969da", "#1a7f37", "#8250df", "#bf8700", "#cf222e", "#0a3069", "#6e7781", "#e16f24",
    "#116329", "#a475f9",
];

/// The activity by hour (stacked by region), suspicious window shaded.
fn chart(r: &Report) -> String {
    use trailguard_core::time::parse_rfc3339_millis as ms;
    const HOUR: i64 = 3_600_000;
    let cells: Vec<(i64, &str, u64)> = r
        .hourly
        .iter()
        .filter_map(|h| Some((ms(&h.hour)? / HOUR, h.region.as_str(), h.count)))
        .collect();
    let (Some(lo), Some(hi)) = (
        cells.iter().map(|c| c.0).min(),
        cells.iter().map(|c| c.0).max(),
    ) else {
        return "<p class=\"note\">No timed events to chart.</p>".into();
    };
    // At most 400 bars: hours, or several hours per bar over long spans.
    let per = ((hi - lo + 1) as f64 / 400.0).ceil().max(1.0) as i64;
    let nbars = ((hi - lo) / per + 1) as usize;
    let mut regions: Vec<(&str, u64)> = Vec::new();
    for c in &cells {
        match regions.iter_mut().find(|x| x.0 == c.1) {
            Some(x) => x.1 += c.2,
            None => regions.push((c.1, c.2)),
        }
    }
    regions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let color = |region: &str| {
        let i = regions.iter().position(|x| x.0 == region).unwrap_or(0);
        COLORS[i.min(COLORS.len() - 1)]
    };
    let mut bars = vec![Vec::<(&str, u64)>::new(); nbars];
    for c in &cells {
        let b = &mut bars[((c.0 - lo) / per) as usize];
        match b.iter_mut().find(|x| x.0 == c.1) {
            Some(x) => x.1 += c.2,
            None => b.push((c.1, c.2)),
        }
    }
    let max = bars
        .iter()
        .map(|b| b.iter().map(|x| x.1).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, h, left, top, bottom) = (1000.0, 200.0, 40.0, 10.0, 30.0);
    let plot_w = w - left - 10.0;
    let plot_h = h - top - bottom;
    let bw = plot_w / nbars as f64;
    let x_of = |hour: f64| left + (hour - lo as f64) / per as f64 * bw;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="events per hour by region">"#
    );
    if let Some(since) = r.suspicious_since.as_deref().and_then(ms) {
        let x = x_of(since as f64 / HOUR as f64).clamp(left, left + plot_w);
        let _ = write!(
            s,
            r##"<rect class="suspicious" x="{x:.1}" y="{top}" width="{:.1}" height="{plot_h}" fill="#cf222e" fill-opacity="0.12"><title>suspicious since {}</title></rect><text x="{:.1}" y="{}" fill="#cf222e">suspicious since {}</text>"##,
            (left + plot_w - x).max(2.0),
            esc(&r.suspicious_since.clone().unwrap_or_default()),
            (x + 3.0).min(w - 230.0),
            top + 12.0,
            esc(&r.suspicious_since.clone().unwrap_or_default()),
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let mut y = top + plot_h;
        let x = left + i as f64 * bw;
        for (region, n) in bar {
            let bh = *n as f64 / max as f64 * plot_h;
            y -= bh;
            let start = trailguard_core::time::format_millis((lo + i as i64 * per) * HOUR);
            let _ = write!(
                s,
                r#"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{bh:.2}" fill="{}"><title>{} {}: {n} events</title></rect>"#,
                (bw - 0.5).max(0.5),
                color(region),
                esc(&start),
                esc(region)
            );
        }
    }
    let first = trailguard_core::time::format_millis(lo * HOUR);
    let last = trailguard_core::time::format_millis((hi + 1) * HOUR);
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#8c959f"/><text x="{left}" y="{2}">{3}</text><text x="{1}" y="{2}" text-anchor="end">{4}</text><text x="{5}" y="{6}" text-anchor="end">{max}</text><text x="{5}" y="{0}" text-anchor="end">0</text></svg>"##,
        top + plot_h,
        left + plot_w,
        h - 8.0,
        esc(&first),
        esc(&last),
        left - 4.0,
        top + 10.0,
    );
    s.push_str("<div class=\"legend\">");
    for (region, n) in &regions {
        let _ = write!(
            s,
            r#"<span><i style="background:{}"></i>{} ({n})</span>"#,
            color(region),
            esc(if region.is_empty() {
                "(no region)"
            } else {
                region
            })
        );
    }
    let unit = if per == 1 {
        "hour".to_owned()
    } else {
        format!("{per} hours")
    };
    let _ = write!(
        s,
        "</div><p class=\"note\">Events per {unit}, stacked by region.</p>"
    );
    s
}

fn table(headers: &[&str], rows: &[(String, Vec<String>)]) -> String {
    if rows.is_empty() {
        return "<p class=\"note\">none</p>".into();
    }
    let mut s = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for (class, cells) in rows {
        let _ = write!(s, "<tr class=\"{}\">", esc(class));
        for c in cells {
            // Cells are escaped by the caller (some hold markup of our own).
            let _ = write!(s, "<td>{c}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

fn new_cell(new: bool) -> String {
    if new {
        "<span class=\"tag\">NEW</span>"
    } else {
        ""
    }
    .to_owned()
}

fn cards(r: &Report) -> String {
    let s = &r.subject;
    let name = s
        .access_key_id
        .as_deref()
        .or(s.ip.as_deref())
        .or(s.principal_arn.as_deref())
        .unwrap_or("?");
    let mut c = String::from("<div class=\"cards\">");
    let mut card = |label: &str, value: String, alert: bool| {
        let _ = write!(
            c,
            "<div class=\"card{}\"><b>{}</b>{}</div>",
            if alert { " alert" } else { "" },
            esc(label),
            value
        );
    };
    card(
        &s.kind.replace('_', " "),
        format!("<code class=\"subject\">{}</code>", esc(name)),
        false,
    );
    card("account", e(s.account.as_deref()), false);
    card("principal", e(s.principal_arn.as_deref()), false);
    if let Some(k) = &s.key_type {
        card("key type", esc(k), false);
    }
    if let Some(l) = &r.lineage {
        card(
            "created by",
            format!(
                "{} via {} at {}",
                esc(&l.parent),
                esc(&l.via),
                e(l.time.as_deref())
            ),
            false,
        );
    }
    card("first seen", e(r.first_seen.as_deref()), false);
    card("last seen", e(r.last_seen.as_deref()), false);
    card(
        "events",
        format!("{} ({} errors)", r.event_count, r.error_count),
        false,
    );
    card(
        "suspicious since",
        match &r.suspicious_since {
            Some(t) => format!("{} ({})", esc(t), e(r.suspicious_reason.as_deref())),
            None => "-".into(),
        },
        r.suspicious_since.is_some(),
    );
    let new: Vec<String> = r
        .source_ips
        .iter()
        .filter(|i| i.new)
        .map(|i| esc(&i.ip))
        .chain(
            r.user_agents
                .iter()
                .filter(|u| u.new)
                .map(|u| esc(&clean(&u.user_agent, 90))),
        )
        .collect();
    if !new.is_empty() {
        card("new since then", new.join("<br>"), true);
    }
    card("alerts", r.alerts.len().to_string(), !r.alerts.is_empty());
    c.push_str("</div>");
    c
}

fn section(out: &mut String, r: &Report, events: &mut Vec<(String, String)>) {
    out.push_str(&cards(r));
    details(out, r, events);
}

fn details(out: &mut String, r: &Report, events: &mut Vec<(String, String)>) {
    if r.is_empty() {
        out.push_str("<p><b>No event of this subject in the input.</b></p>");
        return;
    }
    out.push_str("<h3>Blast radius</h3>");
    let lines = super::table::created_lines(&r.created);
    if lines.is_empty() {
        out.push_str("<p class=\"note\">nothing created</p>");
    } else {
        out.push_str("<ul class=\"blast\">");
        for l in lines {
            let _ = write!(out, "<li>{}</li>", esc(&l));
        }
        out.push_str("</ul>");
    }
    let seen = |v: &str, count: u64, first: &Option<String>, last: &Option<String>, new: bool| {
        (
            if new { "new" } else { "" }.to_owned(),
            vec![
                esc(v),
                count.to_string(),
                e(first.as_deref()),
                e(last.as_deref()),
                new_cell(new),
            ],
        )
    };
    out.push_str("<h3>Source IPs</h3>");
    let rows: Vec<_> = r
        .source_ips
        .iter()
        .map(|i| seen(&i.ip, i.count, &i.first_seen, &i.last_seen, i.new))
        .collect();
    out.push_str(&table(
        &["IP", "count", "first seen", "last seen", "new"],
        &rows,
    ));
    out.push_str("<h3>User agents</h3>");
    let rows: Vec<_> = r
        .user_agents
        .iter()
        .map(|u| seen(&u.user_agent, u.count, &u.first_seen, &u.last_seen, u.new))
        .collect();
    out.push_str(&table(
        &["user agent", "count", "first seen", "last seen", "new"],
        &rows,
    ));
    out.push_str("<h3>Regions</h3>");
    let rows: Vec<_> = r
        .regions
        .iter()
        .map(|g| seen(&g.region, g.count, &g.first_seen, &g.last_seen, g.new))
        .collect();
    out.push_str(&table(
        &["region", "count", "first seen", "last seen", "new"],
        &rows,
    ));
    if r.subject.kind == "ip" || r.subject.kind == "principal" {
        out.push_str("<h3>Access keys used</h3>");
        let rows: Vec<_> = r
            .access_keys
            .iter()
            .map(|k| seen(&k.id, k.count, &k.first_seen, &k.last_seen, k.new))
            .collect();
        out.push_str(&table(
            &["access key", "count", "first seen", "last seen", "new"],
            &rows,
        ));
        out.push_str("<h3>Principals</h3>");
        let rows: Vec<_> = r
            .principals
            .iter()
            .map(|k| seen(&k.id, k.count, &k.first_seen, &k.last_seen, k.new))
            .collect();
        out.push_str(&table(
            &["principal", "count", "first seen", "last seen", "new"],
            &rows,
        ));
    }
    out.push_str("<h3>Actions</h3>");
    let rows: Vec<_> = r
        .actions
        .iter()
        .map(|a| {
            (
                if a.errors > 0 { "err" } else { "" }.to_owned(),
                vec![
                    esc(&a.event_source),
                    esc(&a.event_name),
                    a.count.to_string(),
                    a.errors.to_string(),
                ],
            )
        })
        .collect();
    out.push_str(&table(&["service", "API", "count", "errors"], &rows));
    if !r.alerts.is_empty() {
        out.push_str("<h3>Alerts</h3>");
        let rows: Vec<_> = r
            .alerts
            .iter()
            .map(|a| {
                (
                    String::new(),
                    vec![
                        esc(a.rule.severity.as_str()),
                        esc(&a.time),
                        esc(&a.rule.id),
                        a.count.to_string(),
                        esc(&a.summary),
                    ],
                )
            })
            .collect();
        out.push_str(&table(
            &["severity", "first event", "rule", "count", "summary"],
            &rows,
        ));
    }
    let who = r
        .subject
        .access_key_id
        .clone()
        .or(r.subject.ip.clone())
        .or(r.subject.principal_arn.clone())
        .unwrap_or_default();
    let since = r
        .suspicious_since
        .as_deref()
        .and_then(trailguard_core::time::parse_rfc3339_millis);
    for t in &r.timeline {
        let sus = matches!((t.time_ms, since), (Some(a), Some(b)) if a >= b);
        let class = [(t.error_code.is_some(), "err"), (sus, "sus")]
            .iter()
            .filter(|c| c.0)
            .map(|c| c.1)
            .collect::<Vec<_>>()
            .join(" ");
        let cells = [
            e(t.time.as_deref()),
            esc(&who),
            e(t.region.as_deref()),
            e(t.source_ip.as_deref()),
            e(t.access_key_id.as_deref()),
            format!(
                "{}:{}",
                e(t.event_source
                    .as_deref()
                    .map(|s| s.trim_end_matches(".amazonaws.com"))),
                e(t.event_name.as_deref())
            ),
            e(t.error_code.as_deref()),
            e(t.event_id.as_deref()),
            esc(&clean(or_dash(t.user_agent.as_deref()), 200)),
        ];
        let mut row = String::new();
        for c in cells {
            let _ = write!(row, "<td>{c}</td>");
        }
        events.push((class, row));
    }
}

/// The whole report as one HTML page.
pub fn write_html(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let s = &r.subject;
    let name = s
        .access_key_id
        .as_deref()
        .or(s.ip.as_deref())
        .or(s.principal_arn.as_deref())
        .unwrap_or("?");
    let mut body = String::new();
    let mut events: Vec<(String, String)> = Vec::new();
    let _ = write!(
        body,
        "<h1>Investigation: <code>{}</code></h1><p class=\"note\">trailguard investigate, {} events{}</p>",
        esc(name),
        r.event_count,
        if r.timeline_truncated {
            format!(
                "; the timeline keeps the earliest and latest {} ({} not kept)",
                r.timeline_limit, r.timeline_dropped
            )
        } else {
            String::new()
        }
    );
    body.push_str("<h2>Summary</h2>");
    body.push_str(&cards(r));
    body.push_str("<h2>Activity</h2>");
    body.push_str(&chart(r));
    body.push_str("<h2>Details</h2>");
    details(&mut body, r, &mut events);
    if !r.derived.is_empty() || r.derived_omitted > 0 {
        body.push_str("<h2>Lineage: credentials it created</h2>");
        for d in r.walk().into_iter().skip(1) {
            let _ = write!(
                body,
                "<h3 class=\"derived\">Derived <code>{}</code></h3>",
                e(d.subject.access_key_id.as_deref())
            );
            section(&mut body, d, &mut events);
        }
        if r.derived_omitted > 0 {
            let _ = write!(
                body,
                "<p class=\"note\">{} more derived credentials not reported.</p>",
                r.derived_omitted
            );
        }
    }
    let _ = write!(
        body,
        "<h2>Events</h2><input id=\"q\" type=\"search\" placeholder=\"filter: any text, e.g. an IP, an API, an event id\" aria-label=\"search events\"> <span class=\"note\"><span id=\"shown\">{}</span> of {} shown</span>",
        events.len(),
        events.len()
    );
    let mut rows = String::new();
    for (class, row) in &events {
        let _ = write!(rows, "<tr class=\"{}\">{row}</tr>", esc(class));
    }
    let _ = write!(
        body,
        "<table id=\"events\"><thead><tr><th>time</th><th>credential</th><th>region</th><th>source IP</th><th>access key</th><th>call</th><th>error</th><th>event id</th><th>user agent</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>trailguard investigation: {}</title><style>{STYLE}</style></head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n",
        esc(name)
    )
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_everything_that_could_make_markup() {
        assert_eq!(
            esc("<script>alert(1)</script>\"'&"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"
        );
        assert_eq!(esc("a\u{1b}[31m"), "a?[31m");
    }
}
