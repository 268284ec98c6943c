"""The five demo models that run here: what their features mean, and the schemas, runtime and card built from that
plus the manifest `scripts/build-demo-models` writes (file hashes, measured scores, observed feature ranges).

Runtime code: reads `onnx/manifest.json`, never imports scikit-learn (a `make run` install does not have it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from modelmarket.catalog.vocabulary import Modality, Task

ONNX_DIR = Path(__file__).resolve().parent / "onnx"
MANIFEST_PATH = ONNX_DIR / "manifest.json"
VERSION = "1.0.0"


@dataclass(frozen=True)
class Feature:
    key: str  # the name callers send, in `feature_order`
    dataset_name: str  # scikit-learn's feature_names entry (the builder checks the order)
    title: str
    unit: str  # "" when the dataset does not state one
    description: str = ""
    minimum: float | None = None  # a hard lower bound (a physical one), not the observed range
    maximum: float | None = None


@dataclass(frozen=True)
class RunnableModel:
    slug: str
    name: str
    dataset: str  # scikit-learn loader: load_<dataset>
    task: str
    summary: str
    about: str  # markdown: the dataset and the problem
    limitations: str  # markdown bullet list
    features: tuple[Feature, ...]
    labels: tuple[str, ...]  # class names by label index; () for regression
    target_description: str
    tags: tuple[str, ...]
    featured: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.slug}.onnx"

    @property
    def is_classifier(self) -> bool:
        return bool(self.labels)


def _simple(key: str, dataset_name: str, title: str, unit: str, description: str = "") -> Feature:
    return Feature(key, dataset_name, title, unit, description, minimum=0)


IRIS_FEATURES = (
    _simple("sepal_length_cm", "sepal length (cm)", "Sepal length", "cm"),
    _simple("sepal_width_cm", "sepal width (cm)", "Sepal width", "cm"),
    _simple("petal_length_cm", "petal length (cm)", "Petal length", "cm"),
    _simple("petal_width_cm", "petal width (cm)", "Petal width", "cm"),
)

WINE_FEATURES = (
    _simple("alcohol", "alcohol", "Alcohol", "% vol"),
    _simple("malic_acid", "malic_acid", "Malic acid", "g/L"),
    _simple("ash", "ash", "Ash", "g/L"),
    _simple(
        "alcalinity_of_ash", "alcalinity_of_ash", "Alcalinity of ash", "", "Unit not stated in the dataset."
    ),
    _simple("magnesium", "magnesium", "Magnesium", "mg/L"),
    _simple("total_phenols", "total_phenols", "Total phenols", "", "Unit not stated in the dataset."),
    _simple("flavanoids", "flavanoids", "Flavanoids", "", "Unit not stated in the dataset."),
    _simple(
        "nonflavanoid_phenols",
        "nonflavanoid_phenols",
        "Nonflavanoid phenols",
        "",
        "Unit not stated in the dataset.",
    ),
    _simple("proanthocyanins", "proanthocyanins", "Proanthocyanins", "", "Unit not stated in the dataset."),
    _simple(
        "color_intensity", "color_intensity", "Colour intensity", "", "Absorbance-based colour intensity."
    ),
    _simple("hue", "hue", "Hue", "", "A ratio of absorbances."),
    _simple(
        "od280_od315_of_diluted_wines",
        "od280/od315_of_diluted_wines",
        "OD280/OD315 of diluted wines",
        "",
        "Ratio of absorbances at 280 and 315 nm (a protein content measure).",
    ),
    _simple("proline", "proline", "Proline", "mg/L"),
)

_CELL_MEASUREMENTS = (
    ("radius", "Radius", "Mean of distances from the centre to points on the perimeter."),
    ("texture", "Texture", "Standard deviation of grey-scale values."),
    ("perimeter", "Perimeter", "Perimeter of the nucleus."),
    ("area", "Area", "Area of the nucleus."),
    ("smoothness", "Smoothness", "Local variation in radius lengths."),
    ("compactness", "Compactness", "perimeter² / area - 1.0."),
    ("concavity", "Concavity", "Severity of concave portions of the contour."),
    ("concave_points", "Concave points", "Number of concave portions of the contour."),
    ("symmetry", "Symmetry", "Symmetry of the nucleus."),
    ("fractal_dimension", "Fractal dimension", '"Coastline approximation" - 1.'),
)
_CELL_STATISTICS = (
    ("mean", "mean {}", "Mean {}", "Mean over the nuclei in the image."),
    ("se", "{} error", "{} (standard error)", "Standard error over the nuclei in the image."),
    ("worst", "worst {}", "Worst {}", "Mean of the three largest values in the image."),
)
BREAST_CANCER_FEATURES = tuple(
    _simple(
        f"{statistic}_{key}",
        dataset_pattern.format(key.replace("_", " ")),
        title_pattern.format(title.lower() if statistic == "mean" else title),
        "",
        f"{meaning} {statistic_meaning} Measured on a digitized image of a fine needle aspirate; unit as in the "
        "dataset (image-derived, not stated).",
    )
    for statistic, dataset_pattern, title_pattern, statistic_meaning in _CELL_STATISTICS
    for key, title, meaning in _CELL_MEASUREMENTS
)

DIGITS_FEATURES = tuple(
    Feature(
        f"pixel_{row}_{column}",
        f"pixel_{row}_{column}",
        f"Pixel row {row}, column {column}",
        "ink count",
        "Number of 'on' pixels in this 4x4 block of the original 32x32 bitmap (0 = blank, 16 = full).",
        minimum=0,
        maximum=16,
    )
    for row in range(8)
    for column in range(8)
)

DIABETES_FEATURES = (
    Feature("age", "age", "Age", "years", minimum=0),
    Feature("sex", "sex", "Sex", "", "Coded 1 or 2 in the dataset (which is which is not documented).", 1, 2),
    _simple("bmi", "bmi", "Body mass index", "kg/m²"),
    _simple("bp", "bp", "Average blood pressure", "mm Hg"),
    _simple("s1_tc", "s1", "Total serum cholesterol (tc)", "mg/dL"),
    _simple("s2_ldl", "s2", "Low-density lipoproteins (ldl)", "mg/dL"),
    _simple("s3_hdl", "s3", "High-density lipoproteins (hdl)", "mg/dL"),
    _simple("s4_tch", "s4", "Total cholesterol / HDL (tch)", "ratio"),
    Feature(
        "s5_ltg", "s5", "Serum triglycerides (ltg)", "", "Possibly the log of the serum triglycerides level."
    ),
    _simple("s6_glu", "s6", "Blood sugar level (glu)", "mg/dL"),
)

_TOY_DATA_NOTE = (
    "- Trained on a small, old teaching dataset bundled with scikit-learn: a demonstration of the marketplace's "
    "local inference, not a tool for real decisions.\n"
)

RUNNABLE_MODELS: tuple[RunnableModel, ...] = (
    RunnableModel(
        slug="iris-species-classifier",
        name="Iris species classifier",
        dataset="iris",
        task=Task.TABULAR_CLASSIFICATION,
        summary="Tells Iris setosa, versicolor and virginica apart from four flower measurements. Runs here in ONNX.",
        about=(
            "Fisher's 1936 iris data: 150 flowers, 50 of each of three species, with sepal and petal length and "
            "width in centimetres. Setosa separates cleanly; versicolor and virginica overlap a little."
        ),
        limitations=_TOY_DATA_NOTE
        + "- Knows only these three species; any other flower still gets one of them.\n",
        features=IRIS_FEATURES,
        labels=("setosa", "versicolor", "virginica"),
        target_description="The predicted iris species.",
        tags=("onnx", "scikit-learn", "iris", "botany", "runs-locally"),
        featured=True,
    ),
    RunnableModel(
        slug="wine-cultivar-classifier",
        name="Wine cultivar classifier",
        dataset="wine",
        task=Task.TABULAR_CLASSIFICATION,
        summary="Identifies which of three cultivars an Italian wine came from, using 13 chemical measurements.",
        about=(
            "The UCI wine recognition data (Forina et al.): chemical analyses of 178 wines grown in the same region "
            "of Italy from three cultivars, labelled `class_0`, `class_1` and `class_2` in the dataset."
        ),
        limitations=_TOY_DATA_NOTE
        + "- Only the three cultivars in the data; the units of several measurements are not documented.\n",
        features=WINE_FEATURES,
        labels=("class_0", "class_1", "class_2"),
        target_description="The predicted cultivar (the dataset's class name).",
        tags=("onnx", "scikit-learn", "wine", "chemistry", "runs-locally"),
    ),
    RunnableModel(
        slug="breast-cancer-diagnosis-classifier",
        name="Breast cancer diagnosis classifier (Wisconsin)",
        dataset="breast_cancer",
        task=Task.TABULAR_CLASSIFICATION,
        summary="Classifies a breast mass as malignant or benign from 30 cell-nucleus features (Wisconsin data).",
        about=(
            "The Breast Cancer Wisconsin (Diagnostic) data: 569 fine needle aspirates of breast masses, each "
            "described by ten measurements of the cell nuclei in a digitized image, summarized three ways "
            "(mean, standard error and worst), 30 features in all."
        ),
        limitations=_TOY_DATA_NOTE
        + "- **Not a medical device.** Never use it to diagnose anyone; it has not been validated clinically.\n"
        "- The features come from one imaging procedure of the early 1990s; other measurements will not match.\n",
        features=BREAST_CANCER_FEATURES,
        labels=("malignant", "benign"),
        target_description="The predicted diagnosis.",
        tags=("onnx", "scikit-learn", "medical", "runs-locally"),
    ),
    RunnableModel(
        slug="handwritten-digit-classifier-8x8",
        name="Handwritten digit classifier (8x8)",
        dataset="digits",
        task=Task.IMAGE_CLASSIFICATION,
        summary="Recognizes a handwritten digit 0-9 from an 8x8 grayscale image given as 64 pixel values (0-16).",
        about=(
            "The UCI optical recognition of handwritten digits data as bundled with scikit-learn: 1,797 digits "
            "written by 43 people, each scanned as a 32x32 bitmap and reduced to 8x8 blocks whose values count the "
            "set pixels (0-16). Pixels are given row by row, `pixel_0_0` top left to `pixel_7_7` bottom right."
        ),
        limitations=_TOY_DATA_NOTE
        + "- Expects centred, size-normalized digits like the training scans; drawings that fill the grid "
        "differently (thin strokes, off-centre) are misread more often.\n",
        features=DIGITS_FEATURES,
        labels=tuple(str(digit) for digit in range(10)),
        target_description="The predicted digit.",
        tags=("onnx", "scikit-learn", "digits", "ocr", "runs-locally"),
        featured=True,
    ),
    RunnableModel(
        slug="diabetes-progression-regressor",
        name="Diabetes progression regressor",
        dataset="diabetes",
        task=Task.TABULAR_REGRESSION,
        summary="Predicts a measure of diabetes progression one year ahead from age, sex, BMI, blood pressure and "
        "six blood serum measurements.",
        about=(
            "The diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004, *Least Angle Regression*): ten "
            "baseline variables for 442 patients and a quantitative measure of disease progression one year later "
            "(observed values 25 to 346). This model takes the raw, unscaled measurements."
        ),
        limitations=_TOY_DATA_NOTE
        + "- **Not a medical device.** The target is a research measure with a wide error; never use it for care.\n"
        "- 442 patients is a small sample: expect large errors for any one person.\n",
        features=DIABETES_FEATURES,
        labels=(),
        target_description="Disease progression one year after baseline (the dataset's quantitative measure).",
        tags=("onnx", "scikit-learn", "medical", "regression", "runs-locally"),
    ),
)


@cache
def manifest() -> dict[str, Any]:
    """What the builder recorded for each model, by slug (see `builder.build_all`)."""
    loaded: dict[str, Any] = json.loads(MANIFEST_PATH.read_text())
    return loaded


def onnx_bytes(model: RunnableModel) -> bytes:
    return (ONNX_DIR / model.file_name).read_bytes()


def _feature_schema(feature: Feature, observed: dict[str, float]) -> dict[str, Any]:
    unit = f" ({feature.unit})" if feature.unit else ""
    described = " ".join(part for part in (feature.description, _observed_text(feature, observed)) if part)
    schema: dict[str, Any] = {"type": "number", "title": f"{feature.title}{unit}", "description": described}
    if feature.minimum is not None:
        schema["minimum"] = feature.minimum
    if feature.maximum is not None:
        schema["maximum"] = feature.maximum
    schema["examples"] = [observed["median"]]
    return schema


def _observed_text(feature: Feature, observed: dict[str, float]) -> str:
    unit = f" {feature.unit}" if feature.unit and feature.unit != "ratio" else ""
    return f"Observed in the dataset: {observed['min']:g} to {observed['max']:g}{unit}."


def input_schema(model: RunnableModel) -> dict[str, Any]:
    ranges = manifest()[model.slug]["feature_ranges"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{model.name} input",
        "type": "object",
        "properties": {
            feature.key: _feature_schema(feature, ranges[feature.key]) for feature in model.features
        },
        "required": [feature.key for feature in model.features],
        "additionalProperties": False,
    }


def output_schema(model: RunnableModel) -> dict[str, Any]:
    if not model.is_classifier:
        properties: dict[str, Any] = {"value": {"type": "number", "description": model.target_description}}
        return {
            "title": f"{model.name} output",
            "type": "object",
            "properties": properties,
            "required": ["value"],
        }
    probabilities = {label: {"type": "number", "minimum": 0, "maximum": 1} for label in model.labels}
    return {
        "title": f"{model.name} output",
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": list(model.labels), "description": model.target_description},
            "probabilities": {
                "type": "object",
                "description": "The probability of each class; they sum to 1.",
                "properties": probabilities,
                "required": list(model.labels),
            },
        },
        "required": ["label", "probabilities"],
    }


def runtime(model: RunnableModel) -> dict[str, Any]:
    """What the gateway's local_onnx provider needs: the input tensor's name, the order of the features in it (one
    float32 row per instance), which ONNX output holds what, and the class name for each label index."""
    built = manifest()[model.slug]
    result: dict[str, Any] = {
        "provider": "local_onnx",
        "file": model.file_name,
        "input_name": built["input_name"],
        "input_dtype": "float32",
        "feature_order": [feature.key for feature in model.features],
        "outputs": built["outputs"],
        "labels": list(model.labels),
    }
    if model.dataset == "digits":
        result["image"] = {"width": 8, "height": 8, "min": 0, "max": 16, "layout": "row-major"}
    return result


def modalities(model: RunnableModel) -> tuple[list[str], list[str]]:
    inputs = [Modality.IMAGE] if model.task == Task.IMAGE_CLASSIFICATION else [Modality.TABULAR]
    outputs = [Modality.LABEL] if model.is_classifier else [Modality.NUMBER]
    return [str(value) for value in inputs], [str(value) for value in outputs]


def card_markdown(model: RunnableModel) -> str:
    built = manifest()[model.slug]
    score = f"{built['metric_value']:.4f}" if built["metric"] == "r2" else f"{built['metric_value']:.2%}"
    metric_name = "R² (coefficient of determination)" if built["metric"] == "r2" else "Accuracy"
    feature_rows = "\n".join(
        f"| `{feature.key}` | {feature.title} | {feature.unit or '—'} |" for feature in model.features
    )
    if model.dataset == "digits":  # 64 rows of the same thing say less than one
        feature_rows = (
            "| `pixel_0_0` … `pixel_7_7` | Pixel at row r, column c, row by row | ink count, 0-16 |"
        )
    return (
        f"# {model.name}\n\n{model.summary}\n\n"
        f"## The data\n\n{model.about}\n\n"
        f"## The model\n\n{built['algorithm']}, trained with scikit-learn {built['sklearn_version']} on "
        f"{built['train_size']} examples and converted to ONNX (opset {built['opset']}) with skl2onnx.\n\n"
        f"| held-out examples | {metric_name} |\n|---|---|\n| {built['test_size']} | {score} |\n\n"
        f"The held-out split is {built['test_fraction']:.0%} of the data, drawn with `random_state="
        f"{built['random_state']}`{', stratified by class' if model.is_classifier else ''}.\n\n"
        f"## Using it\n\nThis model runs on ModelMarket itself (onnxruntime), no provider account needed. Send one "
        f"JSON object with every feature below; the answer is "
        + (
            "the predicted `label` and the `probabilities` of every class."
            if model.is_classifier
            else "the predicted `value`."
        )
        + f"\n\n| feature | meaning | unit |\n|---|---|---|\n{feature_rows}\n\n"
        f"## Limitations\n\n{model.limitations}\n"
        "## License\n\nMIT for the model file. The training data comes from scikit-learn's bundled copy of a public "
        "UCI / literature dataset; cite the original authors when you use it.\n\n"
        "---\n\n*Demo listing built by `scripts/build-demo-models`. Download, favourite and rating figures on demo "
        "listings are demo data.*\n"
    )
