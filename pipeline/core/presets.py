"""Named people for the add-on's preset menu and for scripts: spec entries (without ``name``) in real units.

Statures and weights sit near the CDC/NHANES medians of ``pipeline.core.population`` for the age and sex, except the
athletic and heavy presets, which are meant to be far from them (BMI about 25 with high muscle; BMI about 37).
"""

from __future__ import annotations

PERSON_PRESETS: dict[str, dict[str, object]] = {
    "child": {"sex": "male", "age_years": 8.0, "height_cm": 128.0, "weight_kg": 26.0},
    "teenager": {"sex": "female", "age_years": 15.0, "height_cm": 162.0, "weight_kg": 53.0},
    "adult_woman": {"sex": "female", "age_years": 35.0, "height_cm": 164.0, "weight_kg": 62.0},
    "adult_man": {"sex": "male", "age_years": 35.0, "height_cm": 177.0, "weight_kg": 80.0},
    "elder": {"sex": "female", "age_years": 78.0, "height_cm": 158.0, "weight_kg": 63.0},
    "athletic": {"sex": "male", "age_years": 27.0, "height_cm": 182.0, "weight_kg": 83.0, "muscle": 0.9,
                 "waist_cm": 80.0},
    "heavy": {"sex": "male", "age_years": 45.0, "height_cm": 175.0, "weight_kg": 113.0},
}
