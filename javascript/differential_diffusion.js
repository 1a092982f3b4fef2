// Differential Diffusion: live preview of the effective change map over the init image, and tooltips.
// The map transforms mirror lib_diffdiff (maps.py to_change, presets.py), so the preview shows what
// the job will use without a round trip to the server. Pure functions first; the page glue after.

const DIFFDIFF_PREFIX = "diffdiff_img2img";

// Gray levels (Float32Array, row-major, white = 1) -> change strengths, options applied in the engine's order.
function diffdiffToChange(gray, width, height, options) {
    let change = new Float32Array(gray.length);
    for (let i = 0; i < gray.length; i++) {
        let value = options.convention === "white keeps" ? 1 - gray[i] : gray[i];
        change[i] = options.invert ? 1 - value : value;
    }
    if (options.blur > 0) {
        change = diffdiffGaussianBlur(change, width, height, options.blur);
    }
    for (let i = 0; i < change.length; i++) {
        let value = change[i];
        if (options.contrast !== 1) value = 0.5 + (value - 0.5) * options.contrast;
        if (options.strength !== 1) value = value * options.strength;
        change[i] = Math.min(1, Math.max(0, value));
    }
    return change;
}

// Separable Gaussian with standard deviation `radius` pixels, edges replicated (maps.gaussian_blur).
function diffdiffGaussianBlur(plane, width, height, radius) {
    const half = Math.max(1, Math.ceil(3 * radius));
    const kernel = new Float32Array(2 * half + 1);
    let total = 0;
    for (let k = -half; k <= half; k++) {
        kernel[k + half] = Math.exp(-0.5 * (k / radius) ** 2);
        total += kernel[k + half];
    }
    for (let k = 0; k < kernel.length; k++) kernel[k] /= total;
    const clamp = (value, high) => Math.min(high, Math.max(0, value));
    const rows = new Float32Array(plane.length);
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            let sum = 0;
            for (let k = -half; k <= half; k++) sum += kernel[k + half] * plane[y * width + clamp(x + k, width - 1)];
            rows[y * width + x] = sum;
        }
    }
    const out = new Float32Array(plane.length);
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            let sum = 0;
            for (let k = -half; k <= half; k++) sum += kernel[k + half] * rows[clamp(y + k, height - 1) * width + x];
            out[y * width + x] = sum;
        }
    }
    return out;
}

// The strength fan (fan.py): the part index of each pixel, then its change strength in the convention.
function diffdiffStrengthFan(width, height, fan) {
    const gray = new Float32Array(width * height);
    const count = Math.round(fan.count);
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            let index;
            if (fan.layout === "strips") index = Math.floor(((x + 0.5) * count) / width);
            else index = Math.floor(((Math.PI - Math.atan2(height - (y + 0.5), x + 0.5 - width / 2)) / Math.PI) * count);
            index = Math.min(count - 1, Math.max(0, index));
            const change = fan.start + ((fan.end - fan.start) * index) / (count - 1);
            gray[y * width + x] = fan.convention === "white keeps" ? 1 - change : change;
        }
    }
    return gray;
}

// The built-in presets as gray levels, drawn like presets.py (`fan` shapes the strength fan).
function diffdiffPreset(name, width, height, fan) {
    if (name === "strength fan") return diffdiffStrengthFan(width, height, fan);
    const gray = new Float32Array(width * height);
    const space = (i, n) => (n === 1 ? 0 : i / (n - 1));
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            let value;
            if (name === "gradient left to right") value = space(x, width);
            else if (name === "gradient top to bottom") value = space(y, height);
            else if (name === "radial") {
                const row = -1 + 2 * space(y, height);
                const col = -1 + 2 * space(x, width);
                value = Math.min(1, Math.sqrt(row * row + col * col) / Math.SQRT2);
            } else return null;
            gray[y * width + x] = value;
        }
    }
    return gray;
}

if (typeof module !== "undefined") {
    module.exports = {diffdiffToChange, diffdiffGaussianBlur, diffdiffPreset, diffdiffStrengthFan};
}

// ---- page glue: only in the browser ----

function diffdiffElement(name) {
    return gradioApp().getElementById(`${DIFFDIFF_PREFIX}_${name}`);
}

// A setting's value as its control shows it, or its default from SETTINGS (the page carries them in
// the tooltips holder's data-defaults) where the control is missing or holds no number.
function diffdiffValue(name) {
    const value = diffdiffControlValue(name);
    if (value !== null && !Number.isNaN(value)) return value;
    const holder = gradioApp().getElementById(`${DIFFDIFF_PREFIX}_tooltips`);
    return holder?.dataset.defaults ? JSON.parse(holder.dataset.defaults)[name] ?? null : null;
}

function diffdiffControlValue(name) {
    const element = diffdiffElement(name);
    if (!element) return null;
    const checked = element.querySelector("input[type=radio]:checked");
    if (checked) return checked.value;
    const checkbox = element.querySelector("input[type=checkbox]");
    if (checkbox) return checkbox.checked;
    const number = element.querySelector("input[type=number]");
    if (number) return parseFloat(number.value);
    const text = element.querySelector("input, select");
    return text ? text.value : null;
}

function diffdiffGrayOf(image, width, height) {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(image, 0, 0, width, height);
    const pixels = context.getImageData(0, 0, width, height).data;
    const gray = new Float32Array(width * height);
    for (let i = 0; i < gray.length; i++) {
        gray[i] = (0.299 * pixels[4 * i] + 0.587 * pixels[4 * i + 1] + 0.114 * pixels[4 * i + 2]) / 255;
    }
    return gray;
}

function diffdiffInitImage() {
    const tabs = ["img2img_image", "img2img_sketch", "img2maskimg", "inpaint_sketch", "img_inpaint_base"];
    for (const id of tabs) {
        const image = gradioApp().querySelector(`#${id} img`);
        if (image && image.naturalWidth && image.offsetParent !== null) return image;
    }
    return null;
}

let diffdiffLastSignature = null;

function diffdiffDrawPreview() {
    const canvas = diffdiffElement("preview");
    if (!canvas) return;
    const enabled = typeof opts === "undefined" || opts.diffdiff_preview !== false;
    const source = diffdiffValue("source");
    const mapImage = diffdiffElement("map")?.querySelector("img");
    const init = diffdiffInitImage();
    const options = {
        convention: diffdiffValue("convention"),
        invert: diffdiffValue("invert"),
        blur: diffdiffValue("blur"),
        contrast: diffdiffValue("contrast"),
        strength: diffdiffValue("strength"),
    };
    const fanValues = ["fan_layout", "fan_count", "fan_from", "fan_to"].map(diffdiffValue);
    const signature = JSON.stringify([enabled, source, mapImage?.src?.length, mapImage?.src?.slice(-64), init?.src?.slice(-64), options, fanValues]);
    if (signature === diffdiffLastSignature) return;
    diffdiffLastSignature = signature;

    const width = init ? Math.min(256, init.naturalWidth) : 256;
    const height = init ? Math.round((width * init.naturalHeight) / init.naturalWidth) : 256;
    let gray = null;
    if (source === "upload" && mapImage && mapImage.naturalWidth) gray = diffdiffGrayOf(mapImage, width, height);
    else if (source !== "upload" && source !== "inpaint mask") {
        const fan = {
            layout: diffdiffValue("fan_layout"),
            count: diffdiffValue("fan_count"),
            start: diffdiffValue("fan_from"),
            end: diffdiffValue("fan_to"),
            convention: options.convention,
        };
        gray = diffdiffPreset(source, width, height, fan);
    }
    canvas.style.display = enabled && gray ? "block" : "none";
    if (!enabled || !gray) return;

    // the blur radius is in pixels of the job's size (the img2img width): scale it to the preview's size
    const jobWidth = parseFloat(gradioApp().querySelector("#img2img_width input[type=number]")?.value) || width;
    const scale = width / jobWidth;
    const change = diffdiffToChange(gray, width, height, {...options, blur: options.blur * scale});
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    if (init) context.drawImage(init, 0, 0, width, height);
    const frame = context.getImageData(0, 0, width, height);
    for (let i = 0; i < change.length; i++) {
        // kept pixels stay as they are; changing ones are tinted red in proportion to their strength
        const weight = 0.65 * change[i];
        frame.data[4 * i] = frame.data[4 * i] * (1 - weight) + 255 * weight;
        frame.data[4 * i + 1] *= 1 - weight;
        frame.data[4 * i + 2] *= 1 - weight;
        frame.data[4 * i + 3] = 255;
    }
    context.putImageData(frame, 0, 0);
}

function diffdiffApplyTooltips() {
    const holder = gradioApp().getElementById(`${DIFFDIFF_PREFIX}_tooltips`);
    if (!holder) return;
    const tooltips = JSON.parse(holder.dataset.tooltips);
    for (const [id, text] of Object.entries(tooltips)) {
        const element = gradioApp().getElementById(id) || gradioApp().getElementById(`${id}-checkbox`);
        if (element && !element.title) element.title = text;
    }
}

let diffdiffPending = null;

function diffdiffScheduleUpdate() {
    clearTimeout(diffdiffPending);
    diffdiffPending = setTimeout(() => {
        diffdiffApplyTooltips();
        diffdiffDrawPreview();
    }, 200);
}

if (typeof onAfterUiUpdate === "function") {
    onAfterUiUpdate(diffdiffScheduleUpdate);
    // ticking a box or picking a choice adds no element to the page, so onAfterUiUpdate alone can miss it
    for (const type of ["input", "change"]) {
        document.addEventListener(
            type,
            (event) => {
                if (event.target.closest?.(`[id^="${DIFFDIFF_PREFIX}_"]`)) diffdiffScheduleUpdate();
            },
            true,
        );
    }
}
