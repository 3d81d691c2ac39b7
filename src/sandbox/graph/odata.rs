//! OData query options as far as the emulated endpoints need them:
//! `$filter` (eq, ne, gt, ge, lt, le, and, or, not, parentheses,
//! `startswith`), `$select`, `$expand`, `$top`, `$skiptoken`, `$count`,
//! `$orderby`. Each endpoint declares what it supports; anything else gets the
//! 400 Graph gives, never a silent ignore.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::error::{GraphError, GraphResult};

/// Which options an endpoint accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supported {
    pub filter: bool,
    pub select: bool,
    pub expand: &'static [&'static str],
    pub top: bool,
    pub orderby: bool,
    pub count: bool,
}

impl Supported {
    pub const NONE: Self = Self {
        filter: false,
        select: false,
        expand: &[],
        top: false,
        orderby: false,
        count: false,
    };
    pub const ENTITY: Self = Self {
        select: true,
        ..Self::NONE
    };
    pub const LIST: Self = Self {
        filter: true,
        select: true,
        top: true,
        count: true,
        ..Self::NONE
    };

    pub const fn with_expand(mut self, expand: &'static [&'static str]) -> Self {
        self.expand = expand;
        self
    }

    pub const fn with_orderby(mut self) -> Self {
        self.orderby = true;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct ODataQuery {
    pub filter: Option<Filter>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<Expand>,
    pub top: Option<usize>,
    pub skip: usize,
    pub count: bool,
    pub orderby: Option<(String, bool)>,
    /// The query string without `$skiptoken`, to build `@odata.nextLink`.
    pub rest: Vec<(String, String)>,
}

/// One `$expand` item: `assignment($expand=target)` → name `assignment`,
/// options `$expand=target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    pub name: String,
    pub options: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_TOP: usize = 999;

impl ODataQuery {
    pub fn parse(raw: Option<&str>, supported: Supported) -> GraphResult<Self> {
        let mut query = Self::default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| GraphError::bad_request("The query string is malformed."))?;
        for (key, value) in pairs {
            let option = key.trim_start_matches('$').to_ascii_lowercase();
            let dollar = key.starts_with('$');
            if key != "$skiptoken" {
                query.rest.push((key.clone(), value.clone()));
            }
            if !dollar {
                continue;
            }
            match option.as_str() {
                "filter" if supported.filter => query.filter = Some(Filter::parse(&value)?),
                "select" if supported.select => {
                    query.select = Some(value.split(',').map(|s| s.trim().to_owned()).collect())
                }
                "expand" if !supported.expand.is_empty() => {
                    query.expand = parse_expand(&value)?;
                    for e in &query.expand {
                        if !supported
                            .expand
                            .iter()
                            .any(|s| s.eq_ignore_ascii_case(&e.name))
                        {
                            return Err(GraphError::bad_request(format!(
                                "Parsing OData Select and Expand failed: Could not find a property named '{}' that can be expanded.",
                                e.name
                            )));
                        }
                    }
                }
                "top" if supported.top => {
                    let top: usize = value.parse().map_err(|_| {
                        GraphError::bad_request(format!(
                            "Invalid value '{value}' for $top query option found."
                        ))
                    })?;
                    if top == 0 || top > MAX_TOP {
                        return Err(GraphError::bad_request(format!(
                            "Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
                        )));
                    }
                    query.top = Some(top);
                }
                "skiptoken" => {
                    query.skip = value
                        .parse()
                        .map_err(|_| GraphError::bad_request("Invalid $skiptoken."))?;
                }
                "count" if supported.count => query.count = value.eq_ignore_ascii_case("true"),
                "orderby" if supported.orderby => {
                    let mut parts = value.split_whitespace();
                    let field = parts.next().unwrap_or_default().to_owned();
                    let desc = matches!(parts.next(), Some(d) if d.eq_ignore_ascii_case("desc"));
                    query.orderby = Some((field, desc));
                }
                _ => {
                    return Err(GraphError::bad_request(format!(
                        "Query option '{key}' is not supported for this request."
                    )));
                }
            }
        }
        Ok(query)
    }

    pub fn expands(&self, name: &str) -> bool {
        self.expand
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// Keeps only `$select`ed properties (plus `id` and `@odata.type`).
    pub fn project(&self, mut item: Value) -> Value {
        let Some(select) = &self.select else {
            return item;
        };
        if let Value::Object(map) = &mut item {
            let expanded: Vec<String> = self.expand.iter().map(|e| e.name.clone()).collect();
            map.retain(|k, _| {
                k == "id"
                    || k.starts_with("@odata")
                    || select.iter().any(|s| s.eq_ignore_ascii_case(k))
                    || expanded.iter().any(|e| e.eq_ignore_ascii_case(k))
            });
        }
        item
    }

    /// Filters, orders, pages and projects `items` into a collection body.
    /// `self_url` is the absolute request URL without its query.
    pub fn collection(&self, items: Vec<Value>, self_url: &str) -> Value {
        let mut items: Vec<Value> = match &self.filter {
            Some(f) => items.into_iter().filter(|i| f.matches(i)).collect(),
            None => items,
        };
        if let Some((field, desc)) = &self.orderby {
            items.sort_by(|a, b| {
                let ord = compare(lookup(a, field), lookup(b, field));
                if *desc { ord.reverse() } else { ord }
            });
        }
        let total = items.len();
        let size = self.top.unwrap_or(DEFAULT_PAGE_SIZE);
        let page: Vec<Value> = items
            .into_iter()
            .skip(self.skip)
            .take(size)
            .map(|i| self.project(i))
            .collect();
        let mut body = Map::new();
        if self.count {
            body.insert("@odata.count".into(), json!(total));
        }
        body.insert("value".into(), Value::Array(page));
        if self.skip + size < total {
            let mut params = self.rest.clone();
            params.push(("$skiptoken".into(), (self.skip + size).to_string()));
            let qs = serde_urlencoded::to_string(&params).unwrap_or_default();
            body.insert("@odata.nextLink".into(), json!(format!("{self_url}?{qs}")));
        }
        Value::Object(body)
    }
}

fn parse_expand(raw: &str) -> GraphResult<Vec<Expand>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    let bytes: Vec<char> = raw.chars().collect();
    let mut push = |segment: String| -> GraphResult<()> {
        let segment = segment.trim().to_owned();
        if segment.is_empty() {
            return Err(GraphError::bad_request("Invalid $expand: empty item."));
        }
        match segment.find('(') {
            Some(i) if segment.ends_with(')') => out.push(Expand {
                name: segment[..i].trim().to_owned(),
                options: Some(segment[i + 1..segment.len() - 1].to_owned()),
            }),
            Some(_) => {
                return Err(GraphError::bad_request(
                    "Invalid $expand: unbalanced parentheses.",
                ));
            }
            None => out.push(Expand {
                name: segment,
                options: None,
            }),
        }
        Ok(())
    };
    for (i, c) in bytes.iter().enumerate() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    GraphError::bad_request("Invalid $expand: unbalanced parentheses.")
                })?
            }
            ',' if depth == 0 => {
                push(bytes[start..i].iter().collect())?;
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(GraphError::bad_request(
            "Invalid $expand: unbalanced parentheses.",
        ));
    }
    push(bytes[start..].iter().collect())?;
    Ok(out)
}

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: String,
        op: Op,
        value: Literal,
    },
    StartsWith {
        path: String,
        prefix: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    /// Unquoted: numbers, booleans, null, GUIDs and date-times.
    Bare(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Str(String),
    Word(String),
}

impl Filter {
    pub fn parse(text: &str) -> GraphResult<Self> {
        let tokens = tokenize(text)?;
        let mut pos = 0;
        let filter = parse_or(&tokens, &mut pos, text)?;
        if pos != tokens.len() {
            return Err(invalid(text));
        }
        Ok(filter)
    }

    /// The value compared with `path` by an `eq` anywhere in the filter
    /// (endpoints that require a particular filter use this).
    pub fn equality_on(&self, path: &str) -> Option<&str> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => a.equality_on(path).or_else(|| b.equality_on(path)),
            Self::Compare {
                path: p,
                op: Op::Eq,
                value: Literal::String(v) | Literal::Bare(v),
            } if p.eq_ignore_ascii_case(path) => Some(v),
            _ => None,
        }
    }

    pub fn matches(&self, item: &Value) -> bool {
        match self {
            Self::And(a, b) => a.matches(item) && b.matches(item),
            Self::Or(a, b) => a.matches(item) || b.matches(item),
            Self::Not(f) => !f.matches(item),
            Self::StartsWith { path, prefix } => lookup(item, path)
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_lowercase().starts_with(&prefix.to_lowercase())),
            Self::Compare { path, op, value } => {
                let left = lookup(item, path);
                let ord = compare_literal(left, value);
                match op {
                    Op::Eq => ord == Some(Ordering::Equal),
                    Op::Ne => ord != Some(Ordering::Equal),
                    Op::Gt => ord == Some(Ordering::Greater),
                    Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                    Op::Lt => ord == Some(Ordering::Less),
                    Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                }
            }
        }
    }
}

fn invalid(text: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid filter clause: '{text}'."))
}

fn tokenize(text: &str) -> GraphResult<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(invalid(text)),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            s.push(*c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(s));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | ',' | '\'')
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

fn parse_or(tokens: &[Token], pos: &mut usize, text: &str) -> GraphResult<Filter> {
    let mut left = parse_and(tokens, pos, text)?;
    while matches!(tokens.get(*pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case("or")) {
        *pos += 1;
        let right = parse_and(tokens, pos, text)?;
        left = Filter::Or(Box::new(left), Box::new(right));
    }
    Ok(left)
}

fn parse_and(tokens: &[Token], pos: &mut usize, text: &str) -> GraphResult<Filter> {
    let mut left = parse_unary(tokens, pos, text)?;
    while matches!(tokens.get(*pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case("and")) {
        *pos += 1;
        let right = parse_unary(tokens, pos, text)?;
        left = Filter::And(Box::new(left), Box::new(right));
    }
    Ok(left)
}

fn parse_unary(tokens: &[Token], pos: &mut usize, text: &str) -> GraphResult<Filter> {
    match tokens.get(*pos) {
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
            *pos += 1;
            Ok(Filter::Not(Box::new(parse_unary(tokens, pos, text)?)))
        }
        Some(Token::Open) => {
            *pos += 1;
            let inner = parse_or(tokens, pos, text)?;
            if tokens.get(*pos) != Some(&Token::Close) {
                return Err(invalid(text));
            }
            *pos += 1;
            Ok(inner)
        }
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("startswith") => {
            let expect = |pos: &mut usize, t: Token| -> GraphResult<()> {
                if tokens.get(*pos) == Some(&t) {
                    *pos += 1;
                    Ok(())
                } else {
                    Err(invalid(text))
                }
            };
            *pos += 1;
            expect(pos, Token::Open)?;
            let Some(Token::Word(path)) = tokens.get(*pos).cloned() else {
                return Err(invalid(text));
            };
            *pos += 1;
            expect(pos, Token::Comma)?;
            let Some(Token::Str(prefix)) = tokens.get(*pos).cloned() else {
                return Err(invalid(text));
            };
            *pos += 1;
            expect(pos, Token::Close)?;
            Ok(Filter::StartsWith { path, prefix })
        }
        Some(Token::Word(path)) => {
            let path = path.clone();
            *pos += 1;
            let op = match tokens.get(*pos) {
                Some(Token::Word(op)) => match op.to_ascii_lowercase().as_str() {
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    other => {
                        return Err(GraphError::bad_request(format!(
                            "Invalid filter clause: unsupported operator '{other}'."
                        )));
                    }
                },
                _ => return Err(invalid(text)),
            };
            *pos += 1;
            let value = match tokens.get(*pos) {
                Some(Token::Str(s)) => Literal::String(s.clone()),
                Some(Token::Word(w)) => Literal::Bare(w.clone()),
                _ => return Err(invalid(text)),
            };
            *pos += 1;
            Ok(Filter::Compare { path, op, value })
        }
        _ => Err(invalid(text)),
    }
}

/// Resolves `a/b/c` in a JSON object, case-insensitively.
pub fn lookup<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = item;
    for part in path.split('/') {
        let map = current.as_object()?;
        current = map.get(part).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(part))
                .map(|(_, v)| v)
        })?;
    }
    Some(current)
}

fn as_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn compare_literal(left: Option<&Value>, right: &Literal) -> Option<Ordering> {
    let left = left.unwrap_or(&Value::Null);
    let raw = match right {
        Literal::String(s) => s.as_str(),
        Literal::Bare(b) if b == "null" => {
            return Some(if left.is_null() {
                Ordering::Equal
            } else {
                Ordering::Greater
            });
        }
        Literal::Bare(b) => b.as_str(),
    };
    match left {
        Value::Null => None,
        Value::Bool(b) => raw.parse::<bool>().ok().map(|r| b.cmp(&r)),
        Value::Number(n) => {
            let (l, r) = (n.as_f64()?, raw.parse::<f64>().ok()?);
            l.partial_cmp(&r)
        }
        Value::String(s) => match (as_time(s), as_time(raw)) {
            (Some(l), Some(r)) => Some(l.cmp(&r)),
            _ => Some(s.to_lowercase().cmp(&raw.to_lowercase())),
        },
        _ => None,
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => match (as_time(x), as_time(y)) {
            (Some(l), Some(r)) => l.cmp(&r),
            _ => x.cmp(y),
        },
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match() {
        let item = json!({"state": "delivered", "createdDateTime": "2026-01-02T00:00:00.000Z",
            "accessPackage": {"id": "abc"}, "mail": "Alex@contoso.example", "n": 3});
        for (f, expected) in [
            ("state eq 'delivered'", true),
            ("state eq 'denied'", false),
            ("state ne 'denied'", true),
            ("createdDateTime ge 2026-01-01T00:00:00Z", true),
            ("createdDateTime lt 2026-01-01T00:00:00Z", false),
            ("accessPackage/id eq 'abc' and state eq 'delivered'", true),
            (
                "(state eq 'x' or state eq 'delivered') and not (n gt 5)",
                true,
            ),
            ("mail eq 'alex@contoso.example'", true),
            ("startswith(mail,'alex')", true),
            ("n le 3", true),
        ] {
            assert_eq!(Filter::parse(f).unwrap().matches(&item), expected, "{f}");
        }
    }

    #[test]
    fn bad_filters_are_refused() {
        for f in [
            "state eq",
            "state like 'x'",
            "(state eq 'x'",
            "state eq 'unterminated",
        ] {
            assert!(Filter::parse(f).is_err(), "{f}");
        }
    }

    #[test]
    fn unsupported_options_are_refused() {
        assert!(ODataQuery::parse(Some("$search=x"), Supported::LIST).is_err());
        assert!(ODataQuery::parse(Some("$expand=manager"), Supported::LIST).is_err());
        let q = ODataQuery::parse(
            Some("$expand=assignment($expand=target),accessPackage"),
            Supported::LIST.with_expand(&["assignment", "accessPackage"]),
        )
        .unwrap();
        assert_eq!(q.expand.len(), 2);
        assert_eq!(q.expand[0].options.as_deref(), Some("$expand=target"));
    }

    #[test]
    fn pages_with_next_link() {
        let q = ODataQuery::parse(Some("$top=2"), Supported::LIST).unwrap();
        let items = (0..5).map(|i| json!({"id": i.to_string()})).collect();
        let body = q.collection(items, "http://x/users");
        assert_eq!(body["value"].as_array().unwrap().len(), 2);
        let next = body["@odata.nextLink"].as_str().unwrap();
        assert!(
            next.contains("%24skiptoken=2") || next.contains("$skiptoken=2"),
            "{next}"
        );
    }
}
