// OpenCV BTV-L1 super-resolution (opencv_contrib `superres`, Farsiu 2004 / Mitzel 2009) over
// a list of image files: the baseline harness of benchmarks/compare_btvl1.py.
//
// Build: benchmarks/baselines/build_btvl1.sh  (Debian: libopencv-superres-dev, OpenCV 4.6)
//
// Usage:
//   btvl1 [options] FRAME... | FOLDER
//     --scale S          upscaling factor (default 4)
//     --iterations N     BTV-L1 iterations (OpenCV default 180)
//     --radius R         temporal area radius (OpenCV default 4)
//     --flow NAME        farneback | tvl1 | dual_tvl1 (tvl1 is the same as dual_tvl1;
//                        OpenCV's superres has no other CPU TV-L1) (default farneback)
//     --out DIR          write out_0000.png, out_0001.png, ... and timings.jsonl here
//     --lambda/--tau/--alpha X, --btv-kernel N, --blur-ksize N, --blur-sigma X
//                        override OpenCV's BTV-L1 parameters (defaults left as OpenCV's)
//     --threads N        cv::setNumThreads(N) (default: OpenCV's choice)
//
// Frames are read with cv::imread (BGR, 8-bit) in the order given (a folder: its image files
// sorted by name) and fed to createSuperResolution_BTVL1() through a FrameSource subclass.
// Output k is written as out_%04d.png, 8-bit BGR, as OpenCV returns it: the HR frame with a
// border of `btv-kernel` (default 7) HR pixels cropped on every side. Output k is the
// reconstruction of input k (window [k-R, k+R]; [0, 2R] for k < R, shortened at the end of
// the list). OpenCV processes the frames as a pipeline (the first nextFrame() call reads
// 2R+2 frames and reconstructs R+2 of them; later calls read one frame, reconstruct one and
// return one; the last R calls only return), so the time of one call is not the cost of its
// own frame; compare_btvl1.py uses the total. One JSON object per line goes to stdout and
// to DIR/timings.jsonl:
//   {"event": "config", ...}
//   {"event": "frame", "output": k, "path": "...", "seconds": call time, "elapsed": sum so far}
//   {"event": "done", "outputs": n, "total_seconds": t, "seconds_per_output": t / n}
// Times are those of the nextFrame() calls only (reading the input PNGs included, writing the
// output PNGs excluded).

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/superres.hpp>
#include <opencv2/superres/optical_flow.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>

namespace {

// Feeds the images of a list of files, one per nextFrame() call, then empty frames.
class ImageListSource : public cv::superres::FrameSource {
public:
    explicit ImageListSource(std::vector<std::string> paths) : paths_(std::move(paths)) {}

    void nextFrame(cv::OutputArray frame) override {
        if (pos_ >= paths_.size()) {
            frame.release();
            return;
        }
        cv::Mat img = cv::imread(paths_[pos_], cv::IMREAD_COLOR);
        if (img.empty())
            throw std::runtime_error("cannot read image " + paths_[pos_]);
        if (size_.area() == 0)
            size_ = img.size();
        else if (img.size() != size_)
            throw std::runtime_error("frame " + paths_[pos_] + " has a different size");
        ++pos_;
        img.copyTo(frame);
    }

    void reset() override { pos_ = 0; }

private:
    std::vector<std::string> paths_;
    size_t pos_ = 0;
    cv::Size size_;
};

bool is_dir(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool has_image_ext(const std::string& name) {
    std::string low = name;
    std::transform(low.begin(), low.end(), low.begin(), ::tolower);
    for (const char* ext : {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm"}) {
        const std::string e(ext);
        if (low.size() > e.size() && low.compare(low.size() - e.size(), e.size(), e) == 0)
            return true;
    }
    return false;
}

std::vector<std::string> list_folder(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = opendir(dir.c_str());
    if (!d)
        throw std::runtime_error("cannot open folder " + dir);
    while (dirent* e = readdir(d))
        if (has_image_ext(e->d_name))
            names.push_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names)
        n = dir + "/" + n;
    return names;
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out;
}

[[noreturn]] void usage(const std::string& msg) {
    std::cerr << "btvl1: " << msg << "\n"
              << "usage: btvl1 [--scale S] [--iterations N] [--radius R] "
                 "[--flow farneback|tvl1|dual_tvl1] [--out DIR] [--lambda X] [--tau X] "
                 "[--alpha X] [--btv-kernel N] [--blur-ksize N] [--blur-sigma X] "
                 "[--threads N] FRAME... | FOLDER\n";
    std::exit(2);
}

int to_int(const std::string& opt, const std::string& v, int minimum) {
    char* end = nullptr;
    long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || x < minimum)
        usage(opt + " expects an integer >= " + std::to_string(minimum) + ", got '" + v + "'");
    return static_cast<int>(x);
}

double to_double(const std::string& opt, const std::string& v) {
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end)
        usage(opt + " expects a number, got '" + v + "'");
    return x;
}

}  // namespace

int main(int argc, char** argv) {
    int scale = 4, iterations = -1, radius = -1, btv_kernel = -1, blur_ksize = -1, threads = -1;
    double lambda = -1, tau = -1, alpha = -1, blur_sigma = -1;
    std::string flow = "farneback", out_dir;
    std::vector<std::string> inputs;

    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0) {
            if (i + 1 >= argc)
                usage(a + " needs a value");
            std::string v = argv[++i];
            if (a == "--scale") scale = to_int(a, v, 2);
            else if (a == "--iterations") iterations = to_int(a, v, 1);
            else if (a == "--radius") radius = to_int(a, v, 0);
            else if (a == "--flow") flow = v;
            else if (a == "--out") out_dir = v;
            else if (a == "--lambda") lambda = to_double(a, v);
            else if (a == "--tau") tau = to_double(a, v);
            else if (a == "--alpha") alpha = to_double(a, v);
            else if (a == "--btv-kernel") btv_kernel = to_int(a, v, 1);
            else if (a == "--blur-ksize") blur_ksize = to_int(a, v, 1);
            else if (a == "--blur-sigma") blur_sigma = to_double(a, v);
            else if (a == "--threads") threads = to_int(a, v, 0);
            else usage("unknown option " + a);
        } else {
            inputs.push_back(a);
        }
    }
    if (inputs.empty())
        usage("no frames given");
    if (inputs.size() == 1 && is_dir(inputs[0]))
        inputs = list_folder(inputs[0]);
    if (inputs.empty())
        usage("no image files found");
    if (flow != "farneback" && flow != "tvl1" && flow != "dual_tvl1")
        usage("--flow must be farneback, tvl1 or dual_tvl1, got '" + flow + "'");
    if (!out_dir.empty()) {
        mkdir(out_dir.c_str(), 0755);
        if (!is_dir(out_dir))
            usage("cannot create output folder " + out_dir);
    }
    if (threads >= 0)
        cv::setNumThreads(threads);

    try {
        cv::Ptr<cv::superres::SuperResolution> sr = cv::superres::createSuperResolution_BTVL1();
        sr->setScale(scale);
        if (iterations > 0) sr->setIterations(iterations);
        if (radius >= 0) sr->setTemporalAreaRadius(radius);
        if (lambda >= 0) sr->setLambda(lambda);
        if (tau > 0) sr->setTau(tau);
        if (alpha > 0) sr->setAlpha(alpha);
        if (btv_kernel > 0) sr->setKernelSize(btv_kernel);
        if (blur_ksize > 0) sr->setBlurKernelSize(blur_ksize);
        if (blur_sigma >= 0) sr->setBlurSigma(blur_sigma);
        if (flow == "farneback")
            sr->setOpticalFlow(cv::superres::createOptFlow_Farneback());
        else
            sr->setOpticalFlow(cv::superres::createOptFlow_DualTVL1());
        sr->setInput(cv::makePtr<ImageListSource>(inputs));

        std::ofstream log;
        if (!out_dir.empty())
            log.open(out_dir + "/timings.jsonl");
        auto emit = [&](const std::string& line) {
            std::cout << line << std::endl;
            if (log.is_open())
                log << line << "\n" << std::flush;
        };

        std::ostringstream cfg;
        cfg << "{\"event\": \"config\", \"opencv\": \"" << CV_VERSION << "\", \"inputs\": "
            << inputs.size() << ", \"scale\": " << sr->getScale() << ", \"iterations\": "
            << sr->getIterations() << ", \"radius\": " << sr->getTemporalAreaRadius()
            << ", \"flow\": \"" << flow << "\", \"lambda\": " << sr->getLambda()
            << ", \"tau\": " << sr->getTau() << ", \"alpha\": " << sr->getAlpha()
            << ", \"btv_kernel\": " << sr->getKernelSize() << ", \"blur_ksize\": "
            << sr->getBlurKernelSize() << ", \"blur_sigma\": " << sr->getBlurSigma()
            << ", \"threads\": " << cv::getNumThreads() << "}";
        emit(cfg.str());

        using clock = std::chrono::steady_clock;
        double compute = 0.0;  // time inside nextFrame() only, PNG writing excluded
        cv::Mat frame;
        int k = 0;
        for (;; ++k) {
            const auto t0 = clock::now();
            sr->nextFrame(frame);
            const auto t1 = clock::now();
            const double dt = std::chrono::duration<double>(t1 - t0).count();
            compute += dt;
            if (frame.empty())
                break;
            std::string path;
            if (!out_dir.empty()) {
                char name[32];
                std::snprintf(name, sizeof name, "/out_%04d.png", k);
                path = out_dir + name;
                if (!cv::imwrite(path, frame))
                    throw std::runtime_error("cannot write " + path);
            }
            std::ostringstream line;
            line << "{\"event\": \"frame\", \"output\": " << k << ", \"path\": \""
                 << json_escape(path) << "\", \"height\": " << frame.rows << ", \"width\": "
                 << frame.cols << ", \"seconds\": " << dt << ", \"elapsed\": " << compute
                 << "}";
            emit(line.str());
        }
        std::ostringstream done;
        done << "{\"event\": \"done\", \"outputs\": " << k << ", \"total_seconds\": "
             << compute << ", \"seconds_per_output\": " << (k ? compute / k : 0.0) << "}";
        emit(done.str());
    } catch (const std::exception& e) {
        std::cerr << "btvl1: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
