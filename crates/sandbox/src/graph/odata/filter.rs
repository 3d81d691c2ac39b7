//! `$filter`: parsing and evaluating against rendered JSON entities.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::error::{GraphError, GraphResult};

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

pub(super) fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
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
