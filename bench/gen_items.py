#!/usr/bin/env python3
"""Deterministic generator of Sentinel-2-L2A-like STAC Items as NDJSON.

Each item has 20 assets (13 bands with eo:bands and raster:bands, plus visual, thumbnail,
metadata, SCL, AOT, WVP, granule metadata), about 40 properties, a polygon footprint and five
links: about 14 KB of JSON, like the real Earth Search items the Python original was measured on.

    python3 bench/gen_items.py COUNT > items.ndjson              # Sentinel-2-like (the default)
    python3 bench/gen_items.py COUNT landsat > items.ndjson      # Landsat-C2-L2-like: 11 assets
    python3 bench/gen_items.py COUNT wide > items.ndjson         # 200 properties, 60 assets

The default shape's output is unchanged by the other shapes (same seed, same stream).
"""
import json
import random
import sys

BANDS = [
    ("B01", "coastal", 0.443, 60), ("B02", "blue", 0.490, 10), ("B03", "green", 0.560, 10),
    ("B04", "red", 0.665, 10), ("B05", "rededge1", 0.704, 20), ("B06", "rededge2", 0.740, 20),
    ("B07", "rededge3", 0.783, 20), ("B08", "nir", 0.842, 10), ("B8A", "nir08", 0.865, 20),
    ("B09", "nir09", 0.945, 60), ("B11", "swir16", 1.610, 20), ("B12", "swir22", 2.190, 20),
    ("B10", "cirrus", 1.375, 60),
]
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
]


def item(i, rnd):
    tile = f"{rnd.randint(1, 60):02d}{'CDEFGHJKLMNPQRSTUVWX'[rnd.randint(0, 19)]}{'ABCDEFGHJK'[rnd.randint(0, 9)]}{'ABCDEFGHJK'[rnd.randint(0, 9)]}"
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    stamp = f"2023-{month:02d}-{day:02d}T10:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}000Z"
    item_id = f"S2B_{tile}_2023{month:02d}{day:02d}_{i:07d}_L2A"
    lon = -180 + (i * 0.37) % 355
    lat = -60 + (i * 0.13) % 130
    base = f"https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/{tile[:2]}/{tile[2]}/{tile[3:]}/2023/{month}/{item_id}"
    assets = {}
    for name, common, center, gsd in BANDS:
        size = 10980 * 10 // gsd
        assets[name] = {
            "href": f"{base}/{name}.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "title": f"{common} - {gsd}m",
            "roles": ["data", "reflectance"],
            "gsd": gsd,
            "file:size": rnd.randint(10_000_000, 250_000_000),
            "eo:bands": [{"name": name, "common_name": common, "center_wavelength": center,
                          "full_width_half_max": round(0.02 + rnd.random() * 0.1, 3)}],
            "proj:shape": [size, size],
            "proj:transform": [gsd, 0, 399960 + rnd.randint(0, 9) * 100000, 0, -gsd, 5000040],
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "bits_per_sample": 15,
                              "spatial_resolution": gsd, "scale": 0.0001, "offset": -0.1}],
        }
    assets["visual"] = {"href": f"{base}/TCI.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                        "title": "True color image", "roles": ["visual"], "gsd": 10,
                        "eo:bands": [{"name": b, "common_name": c} for b, c, _, _ in BANDS[1:4]],
                        "proj:shape": [10980, 10980], "file:size": rnd.randint(100_000_000, 300_000_000)}
    assets["thumbnail"] = {"href": f"{base}/thumbnail.jpg", "type": "image/jpeg", "title": "Thumbnail image",
                           "roles": ["thumbnail"], "file:size": rnd.randint(20_000, 90_000)}
    assets["metadata"] = {"href": f"{base}/metadata.xml", "type": "application/xml", "title": "Original XML metadata",
                          "roles": ["metadata"], "file:size": rnd.randint(400_000, 700_000)}
    assets["scl"] = {"href": f"{base}/SCL.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                     "title": "Scene classification map (SCL)", "roles": ["data"], "gsd": 20,
                     "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}]}
    assets["aot"] = {"href": f"{base}/AOT.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                     "title": "Aerosol optical thickness (AOT)", "roles": ["data"], "gsd": 20}
    assets["wvp"] = {"href": f"{base}/WVP.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                     "title": "Water vapour (WVP)", "roles": ["data"], "gsd": 20}
    assets["granule_metadata"] = {"href": f"{base}/granule_metadata.xml", "type": "application/xml", "roles": ["metadata"]}
    d = 0.9 + rnd.random() * 0.2
    ring = [[round(lon, 6), round(lat, 6)], [round(lon + d, 6), round(lat, 6)], [round(lon + d, 6), round(lat + d, 6)],
            [round(lon, 6), round(lat + d, 6)], [round(lon, 6), round(lat, 6)]]
    properties = {
        "datetime": stamp, "created": stamp, "updated": stamp,
        "platform": "sentinel-2b", "constellation": "sentinel-2", "instruments": ["msi"],
        "eo:cloud_cover": round(rnd.random() * 100, 6), "proj:epsg": 32600 + rnd.randint(1, 60),
        "mgrs:utm_zone": rnd.randint(1, 60), "mgrs:latitude_band": tile[2], "mgrs:grid_square": tile[3:],
        "grid:code": f"MGRS-{tile}", "view:sun_azimuth": round(rnd.random() * 360, 6),
        "view:sun_elevation": round(rnd.random() * 90, 6), "view:incidence_angle": round(rnd.random() * 12, 6),
        "s2:degraded_msi_data_percentage": round(rnd.random(), 4), "s2:nodata_pixel_percentage": round(rnd.random() * 100, 6),
        "s2:saturated_defective_pixel_percentage": 0, "s2:dark_features_percentage": round(rnd.random() * 5, 6),
        "s2:cloud_shadow_percentage": round(rnd.random() * 5, 6), "s2:vegetation_percentage": round(rnd.random() * 80, 6),
        "s2:not_vegetated_percentage": round(rnd.random() * 50, 6), "s2:water_percentage": round(rnd.random() * 30, 6),
        "s2:unclassified_percentage": round(rnd.random() * 3, 6), "s2:medium_proba_clouds_percentage": round(rnd.random() * 20, 6),
        "s2:high_proba_clouds_percentage": round(rnd.random() * 20, 6), "s2:thin_cirrus_percentage": round(rnd.random() * 10, 6),
        "s2:snow_ice_percentage": round(rnd.random() * 10, 6), "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": "05.09", "s2:product_uri": f"S2B_MSIL2A_{item_id}.SAFE",
        "s2:generation_time": stamp, "s2:datatake_id": f"GS2B_2023{month:02d}{day:02d}T103629_{i:06d}_N05.09",
        "s2:datatake_type": "INS-NOBS", "s2:datastrip_id": f"S2B_OPER_MSI_L2A_DS_2BPS_{i:07d}_N05.09",
        "s2:granule_id": f"S2B_OPER_MSI_L2A_TL_2BPS_{i:07d}_N05.09", "s2:reflectance_conversion_factor": round(0.96 + rnd.random() * 0.07, 8),
        "sat:relative_orbit": rnd.randint(1, 143), "sat:absolute_orbit": 30000 + i,
        "earthsearch:payload_id": f"roda-sentinel2/workflow-sentinel2-to-stac/{i:032x}",
        "earthsearch:boa_offset_applied": True, "processing:software": {"sentinel2-to-stac": "0.1.1"},
    }
    links = [
        {"rel": "self", "type": "application/geo+json", "href": f"https://earth-search.example/v1/collections/sentinel-2-l2a/items/{item_id}"},
        {"rel": "canonical", "type": "application/json", "href": f"s3://sentinel-cogs/sentinel-s2-l2a-cogs/{item_id}.json"},
        {"rel": "parent", "type": "application/json", "href": "https://earth-search.example/v1/collections/sentinel-2-l2a"},
        {"rel": "collection", "type": "application/json", "href": "https://earth-search.example/v1/collections/sentinel-2-l2a"},
        {"rel": "root", "type": "application/json", "href": "https://earth-search.example/v1", "title": "Earth Search"},
    ]
    return {"type": "Feature", "stac_version": "1.0.0", "stac_extensions": EXTENSIONS, "id": item_id,
            "bbox": [ring[0][0], ring[0][1], ring[2][0], ring[2][1]],
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": properties, "links": links, "assets": assets, "collection": "sentinel-2-l2a"}


LANDSAT_BANDS = [
    ("coastal", "SR_B1", 0.44), ("blue", "SR_B2", 0.48), ("green", "SR_B3", 0.56), ("red", "SR_B4", 0.65),
    ("nir08", "SR_B5", 0.86), ("swir16", "SR_B6", 1.6), ("swir22", "SR_B7", 2.2), ("lwir11", "ST_B10", 10.9),
]


def landsat_item(i, rnd):
    """A Landsat Collection 2 Level-2-like item: fewer, different assets (8 bands, QA, MTL, thumbnail)."""
    path, row = rnd.randint(1, 233), rnd.randint(1, 248)
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    stamp = f"2022-{month:02d}-{day:02d}T15:{i % 60:02d}:{(i * 11) % 60:02d}.{i % 1000:03d}Z"
    item_id = f"LC09_L2SP_{path:03d}{row:03d}_2022{month:02d}{day:02d}_{i:07d}_02_T1"
    base = f"https://landsateuwest.blob.core.windows.net/landsat-c2/level-2/standard/oli-tirs/2022/{path:03d}/{row:03d}/{item_id}"
    assets = {}
    for common, name, center in LANDSAT_BANDS:
        assets[common] = {
            "href": f"{base}/{item_id}_{name}.TIF", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "title": f"{common} band", "roles": ["data"], "eo:bands": [{"name": name, "common_name": common,
            "center_wavelength": center}], "raster:bands": [{"scale": 2.75e-05, "offset": -0.2, "nodata": 0,
            "data_type": "uint16", "spatial_resolution": 30}], "file:size": rnd.randint(40_000_000, 90_000_000),
        }
    assets["qa_pixel"] = {"href": f"{base}/{item_id}_QA_PIXEL.TIF", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                          "roles": ["cloud", "cloud-shadow", "snow-ice", "water-mask"], "classification:bitfields": [
                              {"offset": b, "length": 1, "name": n} for b, n in enumerate(["fill", "dilated", "cirrus", "cloud", "shadow", "snow", "clear", "water"])]}
    assets["mtl.json"] = {"href": f"{base}/{item_id}_MTL.json", "type": "application/json", "roles": ["metadata"]}
    assets["thumbnail"] = {"href": f"{base}/{item_id}_thumb_small.jpeg", "type": "image/jpeg", "roles": ["thumbnail"]}
    lon = -180 + (i * 0.41) % 355
    lat = -60 + (i * 0.17) % 130
    d = 1.8 + rnd.random() * 0.4
    ring = [[round(lon, 6), round(lat, 6)], [round(lon + d, 6), round(lat, 6)], [round(lon + d, 6), round(lat + d, 6)],
            [round(lon, 6), round(lat + d, 6)], [round(lon, 6), round(lat, 6)]]
    properties = {
        "datetime": stamp, "platform": "landsat-9", "instruments": ["oli", "tirs"], "eo:cloud_cover": round(rnd.random() * 100, 2),
        "view:off_nadir": 0, "view:sun_azimuth": round(rnd.random() * 360, 8), "view:sun_elevation": round(rnd.random() * 90, 8),
        "landsat:wrs_path": f"{path:03d}", "landsat:wrs_row": f"{row:03d}", "landsat:collection_number": "02",
        "landsat:correction": "L2SP", "landsat:scene_id": f"LC9{path:03d}{row:03d}2022{i % 365:03d}LGN00",
        "proj:epsg": 32600 + rnd.randint(1, 60), "proj:shape": [7891, 7781],
    }
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id,
            "stac_extensions": EXTENSIONS[:3] + ["https://stac-extensions.github.io/classification/v1.0.0/schema.json"],
            "bbox": [ring[0][0], ring[0][1], ring[2][0], ring[2][1]], "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": properties, "links": [{"rel": "self", "href": f"https://stac.example/landsat/{item_id}"}],
            "assets": assets, "collection": "landsat-c2-l2"}


def wide_item(i, rnd):
    """A wide item: 200 properties of mixed types and 60 assets."""
    stamp = f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:{i % 60:02d}Z"
    properties = {"datetime": stamp}
    for k in range(199):
        kind = k % 5
        if kind == 0:
            properties[f"wide:int_{k}"] = rnd.randint(0, 1_000_000)
        elif kind == 1:
            properties[f"wide:float_{k}"] = round(rnd.random() * 1000, 6)
        elif kind == 2:
            properties[f"wide:str_{k}"] = f"value-{rnd.randint(0, 50)}"
        elif kind == 3:
            properties[f"wide:bool_{k}"] = rnd.random() < 0.5
        else:
            properties[f"wide:list_{k}"] = [rnd.randint(0, 9) for _ in range(3)]
    base = f"https://data.example/wide/{i:08d}"
    assets = {f"band_{a:02d}": {"href": f"{base}/band_{a:02d}.tif", "type": "image/tiff; application=geotiff",
                                 "roles": ["data"], "file:size": rnd.randint(1_000, 10_000_000)} for a in range(60)}
    # A point: rustac refuses items whose geometry is null.
    lon, lat = round(-180 + (i * 0.37) % 360, 6), round(-80 + (i * 0.11) % 160, 6)
    return {"type": "Feature", "stac_version": "1.0.0", "id": f"wide-{i:08d}",
            "geometry": {"type": "Point", "coordinates": [lon, lat]}, "bbox": [lon, lat, lon, lat],
            "properties": properties, "links": [], "assets": assets, "collection": "wide"}


SHAPES = {"sentinel2": item, "landsat": landsat_item, "wide": wide_item}


def main():
    count = int(sys.argv[1])
    shape = SHAPES[sys.argv[2] if len(sys.argv) > 2 else "sentinel2"]
    rnd = random.Random(20261124)
    out = sys.stdout
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for i in range(count):
        out.write(dumps(shape(i, rnd)))
        out.write("\n")


if __name__ == "__main__":
    main()
