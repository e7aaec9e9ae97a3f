//! Mapbox Vector Tile 2.1 messages for decoding tiles in tests: the
//! specification's `vector_tile.proto`, as prost structs, and its point
//! geometry commands.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct Tile {
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<Layer>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Layer {
    #[prost(uint32, required, tag = "15")]
    pub version: u32,
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<Feature>,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<Value>,
    #[prost(uint32, optional, tag = "5")]
    pub extent: Option<u32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Feature {
    #[prost(uint64, optional, tag = "1")]
    pub id: Option<u64>,
    #[prost(uint32, repeated, tag = "2")]
    pub tags: Vec<u32>,
    /// 1 point, 2 line string, 3 polygon.
    #[prost(int32, optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(uint32, repeated, tag = "4")]
    pub geometry: Vec<u32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Value {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub float_value: Option<f32>,
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
    #[prost(uint64, optional, tag = "5")]
    pub uint_value: Option<u64>,
    #[prost(sint64, optional, tag = "6")]
    pub sint_value: Option<i64>,
    #[prost(bool, optional, tag = "7")]
    pub bool_value: Option<bool>,
}

impl Value {
    /// The value as JSON, whichever field carries it.
    pub fn json(&self) -> serde_json::Value {
        use serde_json::json;
        if let Some(s) = &self.string_value {
            return json!(s);
        }
        if let Some(n) = self.float_value {
            return json!(n);
        }
        if let Some(n) = self.double_value {
            return json!(n);
        }
        if let Some(n) = self.int_value.or(self.sint_value) {
            return json!(n);
        }
        if let Some(n) = self.uint_value {
            return json!(n);
        }
        json!(self.bool_value)
    }
}

/// A decoded tile.
pub fn decode(bytes: &[u8]) -> Tile {
    Tile::decode(bytes).expect("a Mapbox Vector Tile")
}

impl Layer {
    /// A feature's properties, from the layer's shared keys and values.
    pub fn properties(&self, feature: &Feature) -> serde_json::Map<String, serde_json::Value> {
        feature
            .tags
            .chunks(2)
            .map(|pair| {
                (
                    self.keys[pair[0] as usize].clone(),
                    self.values[pair[1] as usize].json(),
                )
            })
            .collect()
    }
}

/// The points of a point feature, in tile coordinates (MoveTo commands,
/// zig-zag deltas).
pub fn points(feature: &Feature) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let (mut x, mut y) = (0i64, 0i64);
    let mut at = 0;
    while at < feature.geometry.len() {
        let command = feature.geometry[at];
        let (id, count) = (command & 7, command >> 3);
        assert_eq!(id, 1, "a point feature has only MoveTo commands");
        at += 1;
        for _ in 0..count {
            x += zigzag(feature.geometry[at]);
            y += zigzag(feature.geometry[at + 1]);
            at += 2;
            out.push((x, y));
        }
    }
    out
}

fn zigzag(n: u32) -> i64 {
    i64::from(n >> 1) ^ -i64::from(n & 1)
}

/// The tile at zoom `z` holding a longitude and latitude, and the point's
/// coordinates inside it (extent 4096): Web Mercator, done by hand.
pub fn locate(z: u32, lon: f64, lat: f64) -> ((u32, u32), (f64, f64)) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let lat = lat.to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    (
        (x.floor() as u32, y.floor() as u32),
        (x.fract() * 4096.0, y.fract() * 4096.0),
    )
}
