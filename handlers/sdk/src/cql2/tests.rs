use super::*;

const QUERYABLES: &[Queryable] = &[
    Queryable::new("name", "name", Type::String, "Name"),
    Queryable::new("id", "id", Type::Integer, "Id"),
    Queryable::new("created_at", "created_at", Type::Timestamp, "Stored at"),
    Queryable::new("geometry", "geom", Type::Geometry, "Location"),
];

fn text(filter: &str) -> Result<Compiled, Problem> {
    Filter::parse(filter, Lang::Text, Crs::Crs84, QUERYABLES)?.compile()
}

fn refused(filter: &str) -> String {
    let problem = text(filter).expect_err(filter);
    assert_eq!(problem.0.status, 400, "{filter}");
    problem.0.detail.clone()
}

#[test]
fn comparisons_bind_every_literal() {
    let c = text("name = 'Paris' AND id >= 3").unwrap();
    assert_eq!(c.sql, "((\"name\" = $1::text) AND (\"id\" >= $2::int8))");
    assert_eq!(
        format!("{:?}", c.params),
        format!("{:?}", vec![Value::Text("Paris".into()), Value::Int(3)])
    );
}

#[test]
fn json_and_text_write_the_same_sql() {
    let json = r#"{"op":"and","args":[{"op":"=","args":[{"property":"name"},"Paris"]},{"op":">=","args":[{"property":"id"},3]}]}"#;
    let from_json = Filter::parse(json, Lang::Json, Crs::Crs84, QUERYABLES)
        .unwrap()
        .compile()
        .unwrap();
    let from_text = text("name = 'Paris' AND id >= 3").unwrap();
    assert_eq!(from_json.sql, from_text.sql);
    assert_eq!(
        format!("{:?}", from_json.params),
        format!("{:?}", from_text.params)
    );
}

#[test]
fn advanced_comparisons_and_casei() {
    assert_eq!(
        text("name LIKE 'Par%'").unwrap().sql,
        "(\"name\" LIKE $1::text)"
    );
    assert_eq!(
        text("id BETWEEN 1 AND 5").unwrap().sql,
        "(\"id\" BETWEEN $1::int8 AND $2::int8)"
    );
    assert_eq!(
        text("name IN ('a', 'b')").unwrap().sql,
        "(\"name\" IN ($1::text, $2::text))"
    );
    assert_eq!(
        text("name NOT IN ('a')").unwrap().sql,
        "(NOT (\"name\" IN ($1::text)))"
    );
    assert_eq!(
        text("CASEI(name) = casei('PARIS')").unwrap().sql,
        "(lower(\"name\") = lower($1::text))"
    );
    assert_eq!(
        text("name IS NOT NULL").unwrap().sql,
        "(NOT (\"name\" IS NULL))"
    );
}

#[test]
fn spatial_functions_over_literals() {
    let c = text("S_INTERSECTS(geometry, BBOX(2, 48, 3, 49))").unwrap();
    assert_eq!(
        c.sql,
        "ST_Intersects(\"geom\", ST_MakeEnvelope($1::float8, $2::float8, $3::float8, $4::float8, 4326))"
    );
    let c = text("S_WITHIN(geometry, POLYGON((0 0, 10 0, 10 10, 0 10, 0 0)))").unwrap();
    assert_eq!(
        c.sql,
        "ST_Within(\"geom\", ST_GeomFromText($1::text, 4326))"
    );
    let c = text("S_DISJOINT(geometry, POINT(1 2))").unwrap();
    assert_eq!(
        format!("{:?}", c.params),
        format!("{:?}", vec![Value::Text("POINT(1 2)".into())])
    );
}

#[test]
fn filter_crs_converts_geometry_literals() {
    let paris = "S_INTERSECTS(geometry, POINT(48.8566 2.3522))";
    let c = Filter::parse(paris, Lang::Text, Crs::Epsg4326, QUERYABLES)
        .unwrap()
        .compile()
        .unwrap();
    assert_eq!(
        format!("{:?}", c.params),
        format!("{:?}", vec![Value::Text("POINT(2.3522 48.8566)".into())])
    );
    let mercator = "S_INTERSECTS(geometry, POINT(261845.7 6250566.7))";
    let c = Filter::parse(mercator, Lang::Text, Crs::WebMercator, QUERYABLES)
        .unwrap()
        .compile()
        .unwrap();
    let Value::Text(wkt) = &c.params[0] else {
        panic!()
    };
    assert!(
        wkt.starts_with("POINT(2.352") && wkt.contains(" 48.856"),
        "{wkt}"
    );
}

#[test]
fn temporal_functions_are_allen_relations() {
    let c = text("T_AFTER(created_at, TIMESTAMP('2024-01-01T00:00:00Z'))").unwrap();
    assert_eq!(c.sql, "(\"created_at\" > $1::text::timestamptz)");
    let c = text("T_DURING(created_at, INTERVAL('2024-01-01', '..'))").unwrap();
    assert!(c.sql.contains("'infinity'::timestamptz"), "{}", c.sql);
    assert!(
        c.sql.contains("date::timestamp AT TIME ZONE 'UTC'"),
        "{}",
        c.sql
    );
}

#[test]
fn unknown_properties_and_functions_are_refused() {
    assert!(refused("secret = 1").contains("not a queryable"));
    assert!(refused("pg_sleep(10) = 1").contains("pg_sleep"));
    assert!(refused("name = pg_sleep(10)").contains("pg_sleep"));
    assert!(refused("ACCENTI(name) = 'x'").contains("accenti"));
    assert!(refused("id + 1 = 2").contains('+'));
}

#[test]
fn injection_attempts_are_refused_or_inert() {
    // Syntax SQL has and CQL2 does not.
    for filter in [
        "name = 'a'; DROP TABLE points",
        "name = 'a' -- comment",
        "name = (SELECT name FROM points)",
        "id = '1'::int",
        "name = 'a' /* x */",
    ] {
        refused(filter);
    }
    // A quote inside a string literal stays in the literal, bound as a parameter.
    let c = text("name = 'x'' OR 1=1 --'").unwrap();
    assert_eq!(
        format!("{:?}", c.params),
        format!("{:?}", vec![Value::Text("x' OR 1=1 --".into())])
    );
    assert!(!c.sql.contains("OR"));
}

#[test]
fn types_must_meet() {
    assert!(refused("name = 3").contains("compares a string with a number"));
    assert!(refused("geometry = 'x'").contains("S_EQUALS"));
    assert!(refused("S_INTERSECTS(name, POINT(1 2))").contains("geometry"));
    assert!(refused("created_at > TIMESTAMP('yesterday')").contains("timestamp"));
    assert!(refused("S_INTERSECTS(geometry, POINT(200 100))").contains("outside"));
}

#[test]
fn hostile_sizes_are_refused_before_parsing() {
    let deep = format!("{}name = 'a'{}", "(".repeat(5000), ")".repeat(5000));
    assert!(refused(&deep).contains("nests"));
    let long = format!("name IN ({})", vec!["'a'"; 10_000].join(","));
    assert!(refused(&long).contains("bytes"));
}

#[test]
fn queryables_as_parameters_and_filter_are_anded() {
    let pairs = vec![
        ("name".to_owned(), "Paris".to_owned()),
        ("filter".to_owned(), "id > 2".to_owned()),
    ];
    let c = Filter::from_query(&pairs, QUERYABLES)
        .unwrap()
        .unwrap()
        .compile()
        .unwrap();
    assert_eq!(c.sql, "((\"id\" > $1::int8) AND (\"name\" = $2::text))");
    let bad_lang = vec![("filter-lang".to_owned(), "ecql".to_owned())];
    assert!(Filter::from_query(&bad_lang, QUERYABLES).is_err());
    assert!(Filter::from_query(&[], QUERYABLES).unwrap().is_none());
    let blank = [("filter".to_owned(), " ".to_owned())];
    assert!(Filter::from_query(&blank, QUERYABLES).unwrap().is_none());
}

#[test]
fn an_integer_queryable_as_a_parameter_takes_integers_only() {
    let sql = |raw: &str| {
        let pairs = [("id".to_owned(), raw.to_owned())];
        Filter::from_query(&pairs, QUERYABLES).map(|f| f.unwrap().compile().unwrap().sql)
    };
    assert_eq!(sql("42").unwrap(), "(\"id\" = $1::int8)");
    assert_eq!(sql(" -7 ").unwrap(), "(\"id\" = $1::int8)");
    assert!(sql("99999999999999999999").is_ok());
    for raw in ["0.5", "1e3", "abc", "", "-", "0x10", "inf"] {
        let problem = sql(raw).expect_err(raw);
        assert_eq!(problem.0.status, 400, "{raw}");
        assert!(
            problem.0.detail.contains("id is an integer"),
            "{raw}: {}",
            problem.0.detail
        );
    }
}
