//! A parsed CQL2 expression written as a PostgreSQL condition: an
//! allow-list walk in which properties become quoted columns of declared
//! queryables and every literal a typed parameter.

use cql2::Expr;

use super::literals::{bbox, geometry_wkt, instant};
use super::{MAX_DEPTH, Queryable, Type, bad};
use crate::crs::Crs;
use crate::http::Problem;
use crate::wit::db::Value;

/// What a scalar expression is, for checking what it may meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Bool,
    Instant,
    Geometry,
    Null,
}

impl Kind {
    fn of(queryable: &Queryable) -> Kind {
        match queryable.kind {
            Type::String => Kind::Text,
            Type::Integer | Type::Number => Kind::Number,
            Type::Boolean => Kind::Bool,
            Type::Timestamp => Kind::Instant,
            Type::Geometry => Kind::Geometry,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Instant => "an instant",
            Kind::Geometry => "a geometry",
            Kind::Null => "NULL",
        }
    }
}

struct Typed {
    sql: String,
    kind: Kind,
}

/// Writes conditions, pushing their literals onto `params`.
pub struct Writer<'a> {
    queryables: &'static [Queryable],
    crs: Crs,
    params: &'a mut Vec<Value>,
}

const SPATIAL: &[(&str, &str)] = &[
    ("s_intersects", "ST_Intersects"),
    ("s_equals", "ST_Equals"),
    ("s_disjoint", "ST_Disjoint"),
    ("s_touches", "ST_Touches"),
    ("s_within", "ST_Within"),
    ("s_overlaps", "ST_Overlaps"),
    ("s_crosses", "ST_Crosses"),
    ("s_contains", "ST_Contains"),
];

impl<'a> Writer<'a> {
    pub fn new(queryables: &'static [Queryable], crs: Crs, params: &'a mut Vec<Value>) -> Self {
        Writer {
            queryables,
            crs,
            params,
        }
    }

    fn bind(&mut self, value: Value, cast: &str) -> String {
        self.params.push(value);
        format!("${}::{cast}", self.params.len())
    }

    /// `expr` as a boolean condition.
    pub fn condition(&mut self, expr: &Expr, depth: usize) -> Result<String, Problem> {
        if depth > MAX_DEPTH {
            return Err(bad(format!("filter nests deeper than {MAX_DEPTH} levels")));
        }
        let depth = depth + 1;
        let Expr::Operation { op, args } = expr else {
            let typed = self.scalar(expr, depth)?;
            return match typed.kind {
                Kind::Bool => Ok(typed.sql),
                other => Err(bad(format!(
                    "filter has {} where a condition belongs",
                    other.name()
                ))),
            };
        };
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(bad(format!("{op} takes {n} arguments, not {}", args.len())))
            }
        };
        match op.as_str() {
            "and" | "or" => {
                if args.len() < 2 {
                    return Err(bad(format!("{op} needs two conditions or more")));
                }
                let parts = args
                    .iter()
                    .map(|a| self.condition(a, depth))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!(
                    "({})",
                    parts.join(if op == "and" { " AND " } else { " OR " })
                ))
            }
            "not" => {
                arity(1)?;
                Ok(format!("(NOT {})", self.condition(&args[0], depth)?))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(2)?;
                let (a, b) = self.comparable(&args[0], &args[1], op, depth)?;
                Ok(format!("({} {op} {})", a.sql, b.sql))
            }
            "like" => {
                arity(2)?;
                let (a, b) = self.comparable(&args[0], &args[1], op, depth)?;
                if a.kind != Kind::Text {
                    return Err(bad("LIKE compares strings"));
                }
                Ok(format!("({} LIKE {})", a.sql, b.sql))
            }
            "between" => {
                arity(3)?;
                let (a, low) = self.comparable(&args[0], &args[1], op, depth)?;
                let (_, high) = self.comparable(&args[0], &args[2], op, depth)?;
                if a.kind == Kind::Bool {
                    return Err(bad("BETWEEN compares numbers, strings or instants"));
                }
                Ok(format!("({} BETWEEN {} AND {})", a.sql, low.sql, high.sql))
            }
            "in" => {
                arity(2)?;
                let Expr::Array(items) = args[1].as_ref() else {
                    return Err(bad("IN takes a list: x IN ('a', 'b')"));
                };
                if items.is_empty() {
                    return Err(bad("IN needs a non-empty list"));
                }
                let mut sql = Vec::with_capacity(items.len());
                let mut left = String::new();
                for item in items {
                    let (a, b) = self.comparable(&args[0], item, op, depth)?;
                    left = a.sql;
                    sql.push(b.sql);
                }
                Ok(format!("({left} IN ({}))", sql.join(", ")))
            }
            "isNull" => {
                arity(1)?;
                let typed = self.scalar(&args[0], depth)?;
                Ok(format!("({} IS NULL)", typed.sql))
            }
            spatial if spatial.starts_with("s_") => {
                let function = SPATIAL
                    .iter()
                    .find(|(name, _)| *name == spatial)
                    .map(|(_, f)| *f)
                    .ok_or_else(|| unknown(spatial))?;
                arity(2)?;
                let a = self.of_kind(&args[0], Kind::Geometry, depth)?;
                let b = self.of_kind(&args[1], Kind::Geometry, depth)?;
                Ok(format!("{function}({a}, {b})"))
            }
            temporal if temporal.starts_with("t_") => {
                arity(2)?;
                let a = self.period(&args[0], depth)?;
                let b = self.period(&args[1], depth)?;
                allen(temporal, &a, &b).ok_or_else(|| unknown(temporal))
            }
            other => Err(unknown(other)),
        }
    }

    /// Two operands that may be compared: a property's type decides how
    /// the other side's literal binds.
    fn comparable(
        &mut self,
        a: &Expr,
        b: &Expr,
        op: &str,
        depth: usize,
    ) -> Result<(Typed, Typed), Problem> {
        let a = self.scalar(a, depth)?;
        let b = self.scalar(b, depth)?;
        if a.kind == Kind::Geometry || b.kind == Kind::Geometry {
            return Err(bad(format!(
                "{op} does not compare geometries; use S_EQUALS or S_INTERSECTS"
            )));
        }
        if a.kind != b.kind && a.kind != Kind::Null && b.kind != Kind::Null {
            return Err(bad(format!(
                "{op} compares {} with {}",
                a.kind.name(),
                b.kind.name()
            )));
        }
        Ok((a, b))
    }

    fn of_kind(&mut self, expr: &Expr, kind: Kind, depth: usize) -> Result<String, Problem> {
        let typed = self.scalar(expr, depth)?;
        if typed.kind == kind {
            Ok(typed.sql)
        } else {
            Err(bad(format!(
                "filter has {} where {} belongs",
                typed.kind.name(),
                kind.name()
            )))
        }
    }

    fn scalar(&mut self, expr: &Expr, depth: usize) -> Result<Typed, Problem> {
        let typed = |sql: String, kind: Kind| Ok(Typed { sql, kind });
        match expr {
            Expr::Property { property } => {
                let queryable = self
                    .queryables
                    .iter()
                    .find(|q| q.name == property)
                    .ok_or_else(|| {
                        let names: Vec<&str> = self.queryables.iter().map(|q| q.name).collect();
                        bad(format!(
                            "filter names {property:?}, which is not a queryable; queryables are {}",
                            names.join(", ")
                        ))
                    })?;
                typed(format!("\"{}\"", queryable.column), Kind::of(queryable))
            }
            Expr::Literal(text) => typed(self.bind(Value::Text(text.clone()), "text"), Kind::Text),
            Expr::Float(n) if !n.is_finite() => Err(bad("filter has a number that is not finite")),
            Expr::Float(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                typed(self.bind(Value::Int(*n as i64), "int8"), Kind::Number)
            }
            Expr::Float(n) => typed(self.bind(Value::Float(*n), "float8"), Kind::Number),
            Expr::Bool(b) => typed(self.bind(Value::Boolean(*b), "boolean"), Kind::Bool),
            Expr::Null => typed("NULL".into(), Kind::Null),
            Expr::Timestamp { timestamp } => {
                let sql = self.instant_literal(timestamp, false)?;
                typed(sql, Kind::Instant)
            }
            Expr::Date { date } => {
                let sql = self.instant_literal(date, true)?;
                typed(sql, Kind::Instant)
            }
            Expr::Geometry(geometry) => {
                let wkt = geometry_wkt(geometry, self.crs)?;
                let text = self.bind(Value::Text(wkt), "text");
                typed(format!("ST_GeomFromText({text}, 4326)"), Kind::Geometry)
            }
            Expr::BBox { bbox: numbers } => {
                let [west, south, east, north] = bbox(numbers, self.crs)?;
                let mut envelope = |w: f64, e: f64| {
                    let (w, s) = (
                        self.bind(Value::Float(w), "float8"),
                        self.bind(Value::Float(south), "float8"),
                    );
                    let (e, n) = (
                        self.bind(Value::Float(e), "float8"),
                        self.bind(Value::Float(north), "float8"),
                    );
                    format!("ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326)")
                };
                let sql = if west > east {
                    // Across the antimeridian: the two boxes either side.
                    let (a, b) = (envelope(west, 180.0), envelope(-180.0, east));
                    format!("ST_Collect({a}, {b})")
                } else {
                    envelope(west, east)
                };
                typed(sql, Kind::Geometry)
            }
            Expr::Operation { op, args } if op == "casei" => {
                if args.len() != 1 {
                    return Err(bad("CASEI takes one argument"));
                }
                let inner = self.of_kind(&args[0], Kind::Text, depth + 1)?;
                typed(format!("lower({inner})"), Kind::Text)
            }
            Expr::Operation { .. } => {
                // A condition used as a value (`(a = b) = true`).
                let sql = self.condition(expr, depth + 1)?;
                typed(sql, Kind::Bool)
            }
            Expr::Interval { .. } => Err(bad("an INTERVAL belongs in a T_ function")),
            Expr::Array(_) => Err(bad("a list belongs after IN")),
        }
    }

    fn instant_literal(&mut self, inner: &Expr, date: bool) -> Result<String, Problem> {
        let Expr::Literal(text) = inner else {
            return Err(bad("TIMESTAMP and DATE take a quoted string"));
        };
        let canonical = instant(text, date)?;
        let text = self.bind(Value::Text(canonical), "text");
        Ok(if date {
            format!("({text}::date::timestamp AT TIME ZONE 'UTC')")
        } else {
            format!("{text}::timestamptz")
        })
    }

    /// A temporal operand as (start, end): an instant is both; an
    /// interval's `..` is open (±infinity).
    fn period(&mut self, expr: &Expr, depth: usize) -> Result<(String, String), Problem> {
        if let Expr::Interval { interval } = expr {
            let [start, end] = &interval[..] else {
                return Err(bad("an INTERVAL has a start and an end"));
            };
            return Ok((
                self.bound(start, "-infinity", depth)?,
                self.bound(end, "infinity", depth)?,
            ));
        }
        let instant = self.of_kind(expr, Kind::Instant, depth)?;
        Ok((instant.clone(), instant))
    }

    fn bound(&mut self, expr: &Expr, open: &str, depth: usize) -> Result<String, Problem> {
        match expr {
            Expr::Literal(text) if text == ".." => Ok(format!("'{open}'::timestamptz")),
            Expr::Literal(text) => {
                let date = text.len() == 10;
                self.instant_literal(expr, date).map_err(|_| {
                    bad(format!(
                        "INTERVAL bound {text:?} is not a date or timestamp"
                    ))
                })
            }
            other => self.of_kind(other, Kind::Instant, depth),
        }
    }
}

/// Allen's interval relations of CQL2's `T_` functions over (start, end) pairs.
fn allen(op: &str, (a0, a1): &(String, String), (b0, b1): &(String, String)) -> Option<String> {
    let sql = match op {
        "t_before" => format!("{a1} < {b0}"),
        "t_after" => format!("{a0} > {b1}"),
        "t_meets" => format!("{a1} = {b0}"),
        "t_metBy" => format!("{a0} = {b1}"),
        "t_overlaps" => format!("{a0} < {b0} AND {a1} > {b0} AND {a1} < {b1}"),
        "t_overlappedBy" => format!("{a0} > {b0} AND {a0} < {b1} AND {a1} > {b1}"),
        "t_starts" => format!("{a0} = {b0} AND {a1} < {b1}"),
        "t_startedBy" => format!("{a0} = {b0} AND {a1} > {b1}"),
        "t_during" => format!("{a0} > {b0} AND {a1} < {b1}"),
        "t_contains" => format!("{a0} < {b0} AND {a1} > {b1}"),
        "t_finishes" => format!("{a0} > {b0} AND {a1} = {b1}"),
        "t_finishedBy" => format!("{a0} < {b0} AND {a1} = {b1}"),
        "t_equals" => format!("{a0} = {b0} AND {a1} = {b1}"),
        "t_intersects" => format!("{a0} <= {b1} AND {a1} >= {b0}"),
        "t_disjoint" => format!("NOT ({a0} <= {b1} AND {a1} >= {b0})"),
        _ => return None,
    };
    Some(format!("({sql})"))
}

fn unknown(op: &str) -> Problem {
    bad(format!(
        "filter uses {op:?}, which is not an operator or function this server offers"
    ))
}
