"""Install ikun_mm.

Install non-editably (``pip install .``; ``tools/install.sh`` does it): the build copies
``configs/`` and ``tools/`` into ``ikun_mm/.mim/`` so that ``mim train ikun_mm <config>`` finds
them in site-packages. An editable install has no ``.mim`` folder and mim cannot find the
configs.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    namespace = {}
    with open(osp.join(HERE, 'ikun_mm', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name: str) -> list:
    reqs = []
    with open(osp.join(HERE, 'requirements', name)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def copy_mim_folders() -> None:
    """Mirror configs/ and tools/ into ikun_mm/.mim (copies, never links, so wheels carry
    real files)."""
    mim_dir = osp.join(HERE, 'ikun_mm', '.mim')
    for name in ('configs', 'tools', 'demo'):
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        if not osp.isdir(src):
            continue
        if osp.lexists(dst):
            shutil.rmtree(dst) if osp.isdir(dst) and not osp.islink(dst) else os.remove(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


if __name__ == '__main__':
    copy_mim_folders()
    setup(
        name='ikun_mm',
        version=read_version(),
        description='Referring multi-object tracking (iKUN, NKF, NeuralSORT) for OpenMMLab',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        python_requires='>=3.10',
        packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools', 'demo',
                                        'benchmarks')),
        include_package_data=True,
        package_data={'ikun_mm': ['.mim/**/*', '.mim/**/**/*']},
        install_requires=read_requirements('runtime.txt'),
        extras_require={
            'text': read_requirements('text.txt'),
            'tests': read_requirements('tests.txt'),
        },
        zip_safe=False,
    )
